// Command probe runs inside the in-band test VM (see package inband): it
// reads the BMC behind /dev/ipmi0 with ipmi/inband, the ipmi.Client and
// the collectors, and prints what it found to the serial console between
// markers the test on the host parses. It also exercises the transport's
// fault cases against the real kernel driver.
//
// Modes: "missing" (before the modules are loaded: the no-device error),
// "open" (run as an unprivileged user: the permission error), "main", and
// "exporter": run the exporter binary with an in-band module and scrape it
// over loopback (exporter.go).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/e2e/inband"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	inb "github.com/ipmifleet/ipmi_fleet_exporter/ipmi/inband"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func main() {
	mode := flag.String("mode", "main", "missing, open, main or exporter")
	warm := flag.Int("warm", 5, "warm scrapes to time")
	satellite := flag.Uint("satellite", 0x30, "slave address of the satellite controller")
	kill := flag.Bool("kill", true, "ask the host to stop the BMC and check the no-BMC error")
	flag.Parse()
	var err error
	switch *mode {
	case "missing":
		_, err = inb.Open(inb.Options{})
		fmt.Printf("INBAND-MISSING %s\n", oneLine(err))
		if !errors.Is(err, inb.ErrNoDevice) {
			os.Exit(1)
		}
		return
	case "open":
		_, err = inb.Open(inb.Options{})
		fmt.Printf("INBAND-PERMISSION %s\n", oneLine(err))
		if !errors.Is(err, inb.ErrPermission) {
			os.Exit(1)
		}
		return
	case "exporter":
		err = runExporter(*warm)
	case "main":
		fds, goroutines := openFDs(), runtime.NumGoroutine()
		err = run(*warm, uint8(*satellite), *kill)
		if err == nil {
			err = leaks(fds, goroutines)
		}
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Printf("INBAND-FAIL %s\n", oneLine(err))
		os.Exit(1)
	}
	fmt.Println("INBAND-DONE")
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// leaks compares the open files and goroutines after the transport was
// closed with those before it was opened.
func leaks(fds, goroutines int) error {
	fdsAfter := openFDs()
	g := runtime.NumGoroutine()
	// Goroutines of ended requests may still be on their way out.
	for end := time.Now().Add(2 * time.Second); g > goroutines && time.Now().Before(end); g = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("INBAND-LEAKS fds=%d->%d goroutines=%d->%d\n", fds, fdsAfter, goroutines, g)
	if fdsAfter != fds || g != goroutines {
		return fmt.Errorf("leak: %d open files before, %d after; %d goroutines before, %d after", fds, fdsAfter, goroutines, g)
	}
	return nil
}

func oneLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func run(warm int, satellite uint8, kill bool) error {
	// The device node appears a moment after ipmi_si is loaded.
	var tr *inb.Transport
	var err error
	for end := time.Now().Add(10 * time.Second); ; {
		tr, err = inb.Open(inb.Options{})
		if err == nil || !errors.Is(err, inb.ErrNoDevice) || time.Now().After(end) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer tr.Close(context.Background())
	fmt.Printf("INBAND-DEVICE %s\n", tr.Device())

	if err := checkPermission(); err != nil {
		return err
	}

	client := ipmi.NewClient(tr)
	target := inband.NewTarget(client)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	lines, err := inband.Scrape(ctx, target)
	if err != nil {
		return err
	}
	fmt.Printf("INBAND-COLD wall_ms=%.1f\n", ms(time.Since(start)))
	fmt.Println("INBAND-SCRAPE-BEGIN")
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Println("INBAND-SCRAPE-END")
	_, guidErr := client.SystemGUID(ctx)
	fmt.Printf("INBAND-GUID %s\n", oneLine(guidErr))

	// Warm scrapes: SDR cache and sensor table in place, as the exporter
	// scrapes a node every interval.
	if warm > 0 {
		cpu0 := cpuTime()
		start = time.Now()
		for i := 0; i < warm; i++ {
			if _, err := inband.Scrape(ctx, target); err != nil {
				return err
			}
		}
		wall, cpu := time.Since(start), cpuTime()-cpu0
		fmt.Printf("INBAND-WARM scrapes=%d wall_ms_per_scrape=%.1f cpu_ms_per_scrape=%.1f\n",
			warm, ms(wall)/float64(warm), ms(cpu)/float64(warm))
	}

	if err := concurrent(ctx, tr, satellite); err != nil {
		return err
	}
	if err := deadline(ctx, tr); err != nil {
		return err
	}
	if kill {
		return noBMC(tr)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// checkPermission runs this program as nobody against a device only root
// may open, and expects the permission error.
func checkPermission() error {
	cmd := exec.Command("/proc/self/exe", "-mode", "open")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	fmt.Print(string(out))
	if err != nil {
		return fmt.Errorf("permission check as uid 65534: %w", err)
	}
	return nil
}

// concurrent sends requests from several goroutines on the one device
// file, to the BMC and bridged to the satellite controller, and checks
// that each gets its own answer.
func concurrent(ctx context.Context, tr *inb.Transport, satellite uint8) error {
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			target := wire.Target{}
			if w%2 == 1 {
				target = wire.Target{Addr: satellite}
			}
			for i := 0; i < each; i++ {
				// Alternate commands so a reply handed to the wrong
				// request would not decode.
				var err error
				if i%2 == 0 {
					var r command.GetDeviceIDResponse
					c, data, xerr := tr.Exchange(ctx, target, wire.NetFnApp, command.CmdGetDeviceID, nil)
					if err = xerr; err == nil {
						if c != wire.CCOK {
							err = fmt.Errorf("completion code 0x%02x", uint8(c))
						} else {
							err = r.Unmarshal(data)
						}
					}
				} else {
					var r command.GetSDRRepositoryInfoResponse
					c, data, xerr := tr.Exchange(ctx, wire.Target{}, wire.NetFnStorage, command.CmdGetSDRRepositoryInfo, nil)
					if err = xerr; err == nil {
						if c != wire.CCOK {
							err = fmt.Errorf("completion code 0x%02x", uint8(c))
						} else {
							err = r.Unmarshal(data)
						}
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d request %d (target %+v): %w", w, i, target, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("INBAND-CONCURRENT ok requests=%d\n", workers*each)
	return nil
}

// deadline gives requests less time than the BMC needs (a round trip
// under TCG takes about a millisecond or more), then checks that the next
// requests get their own answers and the late replies were dropped.
func deadline(ctx context.Context, tr *inb.Transport) error {
	before := tr.Dropped()
	expired := 0
	// A quiet host answers within 2 ms at times: shorter deadlines too,
	// down to one a request is sent in but not answered in.
	budgets := []time.Duration{2 * time.Millisecond, time.Millisecond, 500 * time.Microsecond,
		250 * time.Microsecond, 100 * time.Microsecond, 50 * time.Microsecond}
	for i := 0; i < 120 && tr.Dropped() == before; i++ {
		short, cancel := context.WithTimeout(ctx, budgets[i%len(budgets)])
		_, _, err := tr.Exchange(short, wire.Target{}, wire.NetFnApp, command.CmdGetDeviceID, nil)
		cancel()
		switch {
		case err == nil:
			continue // answered in time
		case !errors.Is(err, inb.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("request past its deadline: got %v, want ErrTimeout", err)
		}
		expired++
		// The late Get Device ID reply comes while these wait: it must
		// be dropped, not taken for theirs.
		for j := 0; j < 3; j++ {
			var r command.GetSDRRepositoryInfoResponse
			c, data, err := tr.Exchange(ctx, wire.Target{}, wire.NetFnStorage, command.CmdGetSDRRepositoryInfo, nil)
			if err != nil || c != wire.CCOK {
				return fmt.Errorf("request after an expired one: cc 0x%02x, %v", uint8(c), err)
			}
			if err := r.Unmarshal(data); err != nil {
				return fmt.Errorf("request after an expired one got another's answer: %w", err)
			}
		}
	}
	dropped := tr.Dropped() - before
	fmt.Printf("INBAND-DEADLINE ok expired=%d dropped=%d\n", expired, dropped)
	if dropped == 0 || dropped > uint64(expired) {
		return fmt.Errorf("%d late replies dropped for %d expired requests", dropped, expired)
	}
	return nil
}

// noBMC asks the host (over the serial console) to stop the BMC and
// checks the error a request then gets.
func noBMC(tr *inb.Transport) error {
	fmt.Println("INBAND-STOP-BMC")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for the host: %w", err)
	}
	if strings.TrimSpace(line) != "stopped" {
		return fmt.Errorf("host said %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = ipmi.NewClient(tr).DeviceID(ctx)
	fmt.Printf("INBAND-NOBMC after_ms=%.0f %s\n", ms(time.Since(start)), oneLine(err))
	if !errors.Is(err, inb.ErrNoBMC) {
		return fmt.Errorf("request to a stopped BMC: got %v, want ErrNoBMC", err)
	}
	return nil
}
