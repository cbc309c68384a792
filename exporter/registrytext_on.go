//go:build exporter_registrytext

package exporter

// registryTextDefault is true with -tags exporter_registrytext: the text
// format goes through a registry, as before the direct writer.
const registryTextDefault = true
