// Package interop holds tests only: the exporter against BMCs that behave
// as real ones are documented to (the quirk catalogue of
// docs/bmc-quirks.md, built into the simulator) and against independent BMC
// implementations (pyghmi's BMC server, bougou/go-ipmi's goipmi-server),
// each with an otherwise default module.
package interop
