package exporter

import "net/url"

// queryValues is url.Values; the alias keeps the parse function testable.
type queryValues = url.Values

func parseValues(raw string) (url.Values, error) { return url.ParseQuery(raw) }
