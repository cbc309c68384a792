// Command ipmisimfleet runs a fleet of OpenIPMI ipmi_sim BMCs on consecutive
// loopback UDP ports for benchmarks and manual testing:
//
//	go run ./internal/testbed/cmd/ipmisimfleet -n 50 -base-port 20000
//
// Once every simulator answers an RMCP presence ping it prints exactly one
// line on standard output:
//
//	READY n=50 host=127.0.0.1 first_port=20000 last_port=20049 user=admin password=password
//
// followed (with -consoles) by one "CONSOLE port=<lan port> addr=<host:port>"
// line per simulator. It runs until SIGTERM or SIGINT (or until a simulator
// dies, exit status 1) and kills all children before exiting.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
)

func main() {
	n := flag.Int("n", 10, "number of simulators")
	basePort := flag.Int("base-port", 0, "first UDP port (0: find a free range)")
	stateDir := flag.String("state-dir", "", "directory for per-simulator state (default: a temporary directory, removed on exit)")
	consoles := flag.Bool("consoles", false, "open an emulator console per simulator and print its address")
	timeout := flag.Duration("start-timeout", 30*time.Second, "time allowed for each simulator to answer")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("ipmisimfleet: ")

	root := *stateDir
	if root == "" {
		dir, err := os.MkdirTemp("", "ipmisimfleet-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		root = dir
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	opts := testbed.IPMISimOptions{Port: *basePort, StartTimeout: *timeout, ConsolePort: -1}
	if *consoles {
		opts.ConsolePort = 0
	}
	sims, err := testbed.LaunchFleet(ctx, *n, opts, root)
	if err != nil {
		log.Print(err)
		if *stateDir == "" {
			os.RemoveAll(root)
		}
		os.Exit(1)
	}
	fmt.Printf("READY n=%d host=127.0.0.1 first_port=%d last_port=%d user=%s password=%s\n",
		len(sims), sims[0].Port, sims[len(sims)-1].Port, testbed.AdminUser, testbed.AdminPassword)
	if *consoles {
		for _, s := range sims {
			fmt.Printf("CONSOLE port=%d addr=%s\n", s.Port, s.ConsoleAddr)
		}
	}

	// Wait for a signal or for any child to die.
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, s := range sims {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.Done())})
	}
	chosen, _, _ := reflect.Select(cases)
	testbed.StopAll(sims)
	if chosen != 0 {
		log.Printf("simulator on port %d exited unexpectedly; log: %s", sims[chosen-1].Port, sims[chosen-1].LogPath)
		if *stateDir == "" {
			os.RemoveAll(root)
		}
		os.Exit(1)
	}
}
