//go:build race

package hardening

// raceEnabled: the tests run under the race detector, so the exporter
// binary is built with -race too.
const raceEnabled = true
