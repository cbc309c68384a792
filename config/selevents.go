package config

import (
	"errors"
	"fmt"
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

// UnmarshalYAML reads {name, regex}. A regex that does not compile is an
// error here (ipmi_exporter panics on it at load).
func (e *SELEvent) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping with name and regex, got %s", kindName(n))
	}
	var raw struct {
		Name  field[text] `yaml:"name"`
		Regex field[text] `yaml:"regex"`
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "name", "regex":
		default:
			return fmt.Errorf("unknown key %q (want name and regex)", truncateForError(k.Value))
		}
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	for _, f := range []field[text]{raw.Name, raw.Regex} {
		if f.Err != nil {
			return f.Err
		}
	}
	if raw.Name.V == "" || !raw.Regex.Set {
		return errors.New("every entry needs a name and a regex")
	}
	re, err := regexp.Compile(string(raw.Regex.V))
	if err != nil {
		return fmt.Errorf("regex of %s: %w", truncateForError(string(raw.Name.V)), err)
	}
	e.Name, e.Regex = string(raw.Name.V), re
	return nil
}
