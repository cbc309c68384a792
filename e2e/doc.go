// Package e2e holds the end-to-end acceptance test of the whole stack: the
// exporter binary scraping simulated BMCs, a real Prometheus loading
// examples/prometheus.yml and the rules in alerts/, and a real Alertmanager
// loading examples/alertmanager.yml and notifying a webhook in the test;
// and the scale-out test: two exporters sharing simulated BMCs through
// examples/prometheus-sharded.yml's hashmod relabelling (sharding_test.go).
//
// Everything lives in the _test.go files; run it with
//
//	go test ./e2e
//
// It needs the prometheus and alertmanager binaries (Debian packages
// prometheus and prometheus-alertmanager, or PROMETHEUS_BIN and
// ALERTMANAGER_BIN). Without them the test is skipped, unless CI is set,
// in which case it fails.
package e2e
