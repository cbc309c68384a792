// Command bmcsim serves a fleet of simulated IPMI v2.0 BMCs on consecutive
// loopback UDP ports until SIGINT or SIGTERM. See docs/simulator.md.
//
//	bmcsim --listen 127.0.0.1:16230 --count 5 --profile dual-socket-1u \
//	       --user admin --password secret [--faults loss=0.3,latency=500ms] \
//	       [--control 127.0.0.1:9999] [--seed 1]
//
// Once every BMC is listening it prints exactly one line to stdout:
//
//	bmcsim: ready: 5 BMCs on 127.0.0.1:16230-16234 profile=dual-socket-1u control=http://127.0.0.1:9999
//
// (control=none without --control). Errors go to stderr with exit status 1;
// bad flags exit with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "bmcsim:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bmcsim:", err)
		os.Exit(1)
	}
}

// usageError marks errors in the command line.
type usageError struct{ error }

// options are the parsed flags.
type options struct {
	listen         string
	count          int
	profile        string
	user           string
	password       string
	privilege      string
	kg             string
	cipherSuites   string
	auth15         string
	maxSessions    int
	sessionTimeout time.Duration
	faults         string
	control        string
	seed           int64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bmcsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:6230", "address of the first BMC; BMC i listens on PORT+i (use 127.0.0.1 or [::1]; port 0 picks a free range)")
	fs.IntVar(&o.count, "count", 1, "number of BMCs")
	fs.StringVar(&o.profile, "profile", "dual-socket-1u", "built-in profile name ("+strings.Join(model.ProfileNames(), ", ")+") or a YAML profile file")
	fs.StringVar(&o.user, "user", "admin", "user name every BMC accepts")
	fs.StringVar(&o.password, "password", "password", "that user's password (at most 20 bytes; 16 for IPMI 1.5 logins)")
	fs.StringVar(&o.privilege, "privilege", "admin", "that user's privilege limit: user, operator or admin")
	fs.StringVar(&o.kg, "kg", "", "BMC key K_G (empty: none)")
	fs.StringVar(&o.cipherSuites, "cipher-suites", "", "comma-separated RMCP+ cipher suites offered (empty: 0,1,2,3,6,7,8,11,12,15,16,17)")
	fs.StringVar(&o.auth15, "auth15", "none,password,md5", "IPMI 1.5 auth types accepted (none, password, md5; empty disables IPMI 1.5 logins)")
	fs.IntVar(&o.maxSessions, "max-sessions", simulator.DefaultMaxSessions, "session table size per BMC")
	fs.DurationVar(&o.sessionTimeout, "session-timeout", simulator.DefaultSessionTimeout, "idle time after which a session is closed")
	fs.StringVar(&o.faults, "faults", "", "faults of every BMC, comma-separated: "+simulator.FaultKeys)
	fs.StringVar(&o.control, "control", "", "serve the HTTP control API on this address (e.g. 127.0.0.1:9999)")
	fs.Int64Var(&o.seed, "seed", 1, "seed for sensor values, session IDs and fault decisions")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bmcsim [flags]\n\nServes COUNT simulated IPMI v2.0 BMCs on consecutive UDP ports until SIGINT/SIGTERM,\n"+
			"printing one ready line to stdout once they listen. Flags take one or two dashes.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return o, nil
}

// fleetConfig turns the options into a fleet configuration.
func (o *options) fleetConfig() (simulator.FleetConfig, simulator.FaultSpec, *model.Profile, error) {
	var cfg simulator.FleetConfig
	var spec simulator.FaultSpec
	addr, err := netip.ParseAddrPort(o.listen)
	if err != nil {
		return cfg, spec, nil, usageError{fmt.Errorf("--listen %q: %w", o.listen, err)}
	}
	priv, err := wire.ParsePrivilegeLevel(o.privilege)
	if err != nil {
		return cfg, spec, nil, usageError{fmt.Errorf("--privilege: %w", err)}
	}
	var suites []uint8
	if o.cipherSuites != "" {
		suites = []uint8{}
		for _, s := range strings.Split(o.cipherSuites, ",") {
			id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
			if err != nil {
				return cfg, spec, nil, usageError{fmt.Errorf("--cipher-suites %q: %w", o.cipherSuites, err)}
			}
			suites = append(suites, uint8(id))
		}
	}
	auth15 := []wire.AuthType{}
	for _, s := range strings.Split(o.auth15, ",") {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "":
		case "none":
			auth15 = append(auth15, wire.AuthTypeNone)
		case "password", "straight":
			auth15 = append(auth15, wire.AuthTypeStraight)
		case "md5":
			auth15 = append(auth15, wire.AuthTypeMD5)
		default:
			return cfg, spec, nil, usageError{fmt.Errorf("--auth15: unknown auth type %q (none, password, md5)", s)}
		}
	}
	if spec, err = simulator.ParseFaults(o.faults); err != nil {
		return cfg, spec, nil, usageError{fmt.Errorf("--faults: %w", err)}
	}
	p, err := model.LoadProfile(o.profile)
	if err != nil {
		return cfg, spec, nil, err
	}
	cfg = simulator.FleetConfig{
		Addr:  addr,
		Count: o.count,
		BMC: simulator.BMCConfig{
			Users:          []simulator.User{{Name: o.user, Password: o.password, Privilege: priv}},
			KG:             []byte(o.kg),
			CipherSuites:   suites,
			AuthTypes15:    auth15,
			MaxSessions:    o.maxSessions,
			SessionTimeout: o.sessionTimeout,
			Channel:        p.LAN.Channel,
		},
		Seed:   o.seed,
		Faults: spec.Faults,
		NewHandler: simulator.ModelHandlers(p, o.seed, nil,
			model.Quirks{SDRMaxRead: spec.SDRMaxRead, EmptyReadingForAbsent: spec.EmptyReadingForAbsent}),
	}
	return cfg, spec, p, nil
}

// raiseFileLimit lifts the soft open-files limit to the hard limit: each
// BMC holds one socket, and 5,000 BMCs exceed the usual soft limit of 1,024.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get open files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise open files limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, _, p, err := o.fleetConfig()
	if err != nil {
		return err
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	// Sockets plus stdio, the control listener and some slack.
	if need := uint64(o.count) + 64; limit < need {
		return fmt.Errorf("%d BMCs need about %d open files, the hard limit is %d (raise it, e.g. ulimit -Hn)", o.count, need, limit)
	}
	fleet, err := simulator.NewFleet(cfg)
	if err != nil {
		return err
	}
	defer fleet.Close()

	control := "none"
	var srv *http.Server
	srvErr := make(chan error, 1)
	if o.control != "" {
		ln, err := net.Listen("tcp", o.control)
		if err != nil {
			return fmt.Errorf("--control: %w", err)
		}
		srv = &http.Server{Handler: fleet.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
		control = "http://" + ln.Addr().String()
		go func() { srvErr <- srv.Serve(ln) }()
	}
	first, last := fleet.BMC(0).Addr(), fleet.BMC(fleet.Len()-1).Addr()
	fmt.Fprintf(stdout, "bmcsim: ready: %d BMCs on %s-%d profile=%s control=%s\n", fleet.Len(), first, last.Port(), p.Name, control)

	select {
	case <-ctx.Done():
	case err := <-srvErr:
		return fmt.Errorf("control API: %w", err)
	}
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("control API shutdown: %w", err)
		}
	}
	return fleet.Close()
}
