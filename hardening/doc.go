// Package hardening holds the exporter's robustness tests (issue 7): scrapes
// against misbehaving simulated BMCs over real UDP (loss, latency, reboots,
// full session tables, garbage, silence, spoofed replies), a soak test over
// 500 BMCs, fuzzing of the scrape parameters through the real handler,
// allowed_targets enforcement down to the packet, secret hygiene in logs
// and HTTP responses, TLS and basic auth, and graceful shutdown and reload
// under load against the built binary.
//
// Everything is in the tests; this file only names the package. Run
//
//	go test -race ./hardening                    # the default, about 2 minutes
//	go test -race ./hardening -run Soak -soak=10m # a longer soak
//	go test ./hardening -run ^$ -fuzz=FuzzScrapeParams
package hardening
