// Command udpdelay relays UDP between loopback ports, adding a round-trip
// time: `udpdelay -listen 127.0.0.1:30000 -upstream 127.0.0.1:20000 -count 50 -rtt 5ms`,
// and with -loss P drops each datagram, either way, with probability P.
//
// With -stats ADDR it also serves the datagram counters as JSON,
// {"relayed_in":N,"relayed_out":M}, on http://ADDR/stats, for benchmarks
// that count BMC round trips per scrape.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipmifleet/ipmi_fleet_exporter/bench/udpdelay"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:30000", "first listen address")
	upstream := flag.String("upstream", "127.0.0.1:20000", "first upstream address")
	count := flag.Int("count", 1, "number of consecutive ports")
	rtt := flag.Duration("rtt", 0, "round-trip time to add")
	jitter := flag.Duration("jitter", 0, "extra random delay per direction, up to this")
	loss := flag.Float64("loss", 0, "probability that a datagram is dropped, drawn per datagram in each direction")
	stats := flag.String("stats", "", "serve datagram counters as JSON on http://ADDR/stats (empty: off)")
	flag.Parse()
	l, err := netip.ParseAddrPort(*listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpdelay: -listen:", err)
		os.Exit(2)
	}
	u, err := netip.ParseAddrPort(*upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpdelay: -upstream:", err)
		os.Exit(2)
	}
	r, err := udpdelay.Start(udpdelay.Config{Listen: l, Upstream: u, Count: *count, RTT: *rtt, Jitter: *jitter, Loss: *loss})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *stats != "" {
		ln, err := net.Listen("tcp", *stats)
		if err != nil {
			r.Close()
			fmt.Fprintln(os.Stderr, "udpdelay: -stats:", err)
			os.Exit(1)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			in, out := r.Relayed()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]int64{"relayed_in": in, "relayed_out": out, "dropped": r.Dropped()})
		}))
	}
	fmt.Printf("udpdelay: ready: %d ports %s -> %s rtt=%s loss=%g\n", *count, l, u, *rtt, *loss)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	r.Close()
}
