//go:build !exporter_registrytext

package exporter

// registryTextDefault is false: the text format is written directly.
// Build with -tags exporter_registrytext to send it through a registry as
// before (to compare the two in benchmarks outside this package, such as
// bench/pathbench).
const registryTextDefault = false
