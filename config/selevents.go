package config

import (
	"regexp"

	"gopkg.in/yaml.v3"
)

// SELEvent is one entry of a module's sel_events, as ipmi_exporter reads
// it: a metric name label and a regular expression (Go RE2 syntax,
// unanchored) matched against each SEL entry's event text.
type SELEvent struct {
	Name  string
	Regex *regexp.Regexp
}

// MarshalYAML writes the entry as it was configured.
func (e SELEvent) MarshalYAML() (any, error) {
	return map[string]string{"name": e.Name, "regex": e.Regex.String()}, nil
}

// selEvents parses sel_events: a list of {name, regex}. A regex that does
// not compile is an error here (ipmi_exporter panics on it at load).
func (p *parser) selEvents(kctx string, v *yaml.Node) []SELEvent {
	items, ok := p.list(kctx, v)
	if !ok {
		return nil
	}
	out := make([]SELEvent, 0, len(items))
	for _, item := range items {
		if item.Kind != yaml.MappingNode {
			p.errorf(item, "%s: expected a mapping with name and regex, got %s", kctx, kindName(item))
			continue
		}
		var ev SELEvent
		var raw string
		var haveRegex bool
		for _, kv := range p.pairs(item, 1) {
			switch kv.key.Value {
			case "name":
				ev.Name, _ = p.scalar(kctx+" name", kv.value)
			case "regex":
				raw, haveRegex = p.scalar(kctx+" regex", kv.value)
			default:
				p.errorf(kv.key, "%s: unknown key %s (want name and regex)", kctx, truncateForError(kv.key.Value))
			}
		}
		if ev.Name == "" || !haveRegex {
			p.errorf(item, "%s: every entry needs a name and a regex", kctx)
			continue
		}
		re, err := regexp.Compile(raw)
		if err != nil {
			p.addError(item, err, kctx+": regex of "+truncateForError(ev.Name))
			continue
		}
		ev.Regex = re
		out = append(out, ev)
	}
	return out
}
