package e2e

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlDoc is a parsed YAML document edited in place through its node tree,
// so that everything not edited (comments, anchors and aliases, block
// scalars) is written back as it was.
type yamlDoc struct {
	root yaml.Node
}

func parseYAML(data []byte) (*yamlDoc, error) {
	d := &yamlDoc{}
	if err := yaml.Unmarshal(data, &d.root); err != nil {
		return nil, err
	}
	if d.root.Kind != yaml.DocumentNode || len(d.root.Content) != 1 {
		return nil, fmt.Errorf("not a single YAML document")
	}
	return d, nil
}

func (d *yamlDoc) top() *yaml.Node { return d.root.Content[0] }

func (d *yamlDoc) bytes() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&d.root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// deref follows an alias to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapValue returns the value node of key in mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}

// path walks mapping keys and sequence indexes ("scrape_configs", "0", ...).
func path(n *yaml.Node, keys ...string) (*yaml.Node, error) {
	cur := deref(n)
	for i, k := range keys {
		var next *yaml.Node
		switch cur.Kind {
		case yaml.MappingNode:
			next = mapValue(cur, k)
		case yaml.SequenceNode:
			var idx int
			if _, err := fmt.Sscanf(k, "%d", &idx); err == nil && idx >= 0 && idx < len(cur.Content) {
				next = deref(cur.Content[idx])
			}
		}
		if next == nil {
			return nil, fmt.Errorf("no %s", strings.Join(keys[:i+1], "."))
		}
		cur = next
	}
	return cur, nil
}

// setScalar replaces the value of an existing scalar key and returns the
// old value. A missing key is an error: the edits only shorten what the
// shipped file already sets.
func setScalar(m *yaml.Node, key, value string) (old string, err error) {
	v := mapValue(m, key)
	if v == nil {
		return "", fmt.Errorf("key %q not found", key)
	}
	if v.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("key %q is not a scalar", key)
	}
	old = v.Value
	v.Value = value
	v.Tag = "!!str"
	v.Style = 0
	return old, nil
}

// setStrings replaces the sequence value of an existing key by values.
func setStrings(m *yaml.Node, key string, values []string) error {
	v := mapValue(m, key)
	if v == nil || v.Kind != yaml.SequenceNode {
		return fmt.Errorf("key %q is not a sequence", key)
	}
	v.Content = nil
	v.Style = yaml.FlowStyle
	for _, s := range values {
		v.Content = append(v.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle})
	}
	return nil
}

// findInSeq returns the first mapping of sequence seq whose key has value.
func findInSeq(seq *yaml.Node, key, value string) *yaml.Node {
	seq = deref(seq)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	for _, item := range seq.Content {
		if v := mapValue(item, key); v != nil && v.Value == value {
			return deref(item)
		}
	}
	return nil
}
