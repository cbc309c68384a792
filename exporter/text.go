package exporter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The text exposition (text/plain; version=0.0.4, what Prometheus 2.x and
// most scrapers ask for) is written directly from the scrape's metrics:
// a registry per scrape (registration, processMetric, the consistency
// checks, sorting every series) cost about a quarter of the exporter's CPU
// per warm scrape, for metrics that are consistent by construction.
//
// The direct writer still checks what would make the exposition invalid
// (names, label names and values, each series' labels against its Desc,
// one type per family, one family per name); anything it cannot handle
// sends the whole response through the registry instead.

// errNotDirect wraps every reason the direct writer gives up.
var errNotDirect = errors.New("not writable directly")

// maxCachedDescs bounds the Desc cache: the collectors' Descs are package
// variables, but a Desc made per scrape must not grow the cache forever.
const maxCachedDescs = 4096

// descInfo is what the text writer needs of a Desc, parsed once from
// Desc.String (client_golang has no getters).
type descInfo struct {
	err    error  // why the Desc cannot be written directly
	name   string // fully qualified name, a legacy-valid metric name
	help   []byte // "# HELP name help\n", escaped
	labels []descLabel
}

// descLabel is one label of a Desc; const labels carry their value.
type descLabel struct {
	name     string
	value    string
	hasValue bool
}

// textScratch is the reused state of one direct write.
type textScratch struct {
	buf     bytes.Buffer
	m       dto.Metric
	num     []byte
	index   map[*prometheus.Desc]int
	names   map[string]struct{}
	groups  []textGroup
	members []prometheus.Metric
}

// textGroup is one family of the response: its metrics are
// members[start:start+n] after grouping.
type textGroup struct {
	desc  *prometheus.Desc
	count int
	start int
}

// textWriter holds the Desc cache and the scratch pool of an Exporter.
type textWriter struct {
	descs    sync.Map // *prometheus.Desc → *descInfo
	nDescs   atomic.Int64
	scratchs sync.Pool
}

// directTextFormat reports whether format is one the direct writer
// produces byte for byte like expfmt: the classic text format, with a
// name escaping that leaves legacy-valid names alone (the writer only
// accepts those).
func directTextFormat(format expfmt.Format) bool {
	if format.FormatType() != expfmt.TypeTextPlain {
		return false
	}
	switch format.ToEscapingScheme() {
	case model.NoEscaping, model.UnderscoreEscaping, model.ValueEncodingEscaping:
		return true
	}
	return false
}

func (t *textWriter) getScratch() *textScratch {
	s, _ := t.scratchs.Get().(*textScratch)
	if s == nil {
		s = &textScratch{
			index: map[*prometheus.Desc]int{},
			names: map[string]struct{}{},
		}
	}
	s.buf.Reset()
	return s
}

// maxPooledBuffer keeps an unusually large response's buffer from being
// held by the pool.
const maxPooledBuffer = 4 << 20

func (t *textWriter) putScratch(s *textScratch) {
	clear(s.members) // do not keep the scrape's metrics alive
	s.members = s.members[:0]
	clear(s.groups)
	s.groups = s.groups[:0]
	clear(s.index)
	clear(s.names)
	s.m.Reset()
	if s.buf.Cap() > maxPooledBuffer {
		return
	}
	t.scratchs.Put(s)
}

// info returns the parsed Desc, from the cache when it can.
func (t *textWriter) info(d *prometheus.Desc) *descInfo {
	if v, ok := t.descs.Load(d); ok {
		return v.(*descInfo)
	}
	di := parseDesc(d.String())
	if t.nDescs.Load() < maxCachedDescs {
		if _, loaded := t.descs.LoadOrStore(d, di); !loaded {
			t.nDescs.Add(1)
		}
	}
	return di
}

// parseDesc parses the Desc.String format of client_golang:
//
//	Desc{fqName: %q, help: %q, unit: %q, constLabels: {n="v",...}, variableLabels: {n,c(n),...}}
//
// (unit is absent in older versions).
func parseDesc(s string) *descInfo {
	fail := func(why string) *descInfo {
		return &descInfo{err: fmt.Errorf("%w: Desc %s: %s", errNotDirect, s, why)}
	}
	rest, ok := strings.CutPrefix(s, "Desc{fqName: ")
	if !ok {
		return fail("not in the Desc{fqName: ...} format")
	}
	name, rest, ok := cutQuoted(rest)
	if !ok {
		return fail("unquoted name")
	}
	if rest, ok = strings.CutPrefix(rest, ", help: "); !ok {
		return fail("no help")
	}
	help, rest, ok := cutQuoted(rest)
	if !ok {
		return fail("unquoted help")
	}
	if r, ok := strings.CutPrefix(rest, ", unit: "); ok {
		if _, rest, ok = cutQuoted(r); !ok {
			return fail("unquoted unit")
		}
	}
	if rest, ok = strings.CutPrefix(rest, ", constLabels: {"); !ok {
		return fail("no constLabels")
	}
	var labels []descLabel
	for !strings.HasPrefix(rest, "}") {
		ln, r, ok := strings.Cut(rest, "=")
		if !ok {
			return fail("const label without value")
		}
		v, r, ok := cutQuoted(r)
		if !ok {
			return fail("unquoted const label value")
		}
		if !utf8.ValidString(v) {
			return fail("const label value is not UTF-8")
		}
		labels = append(labels, descLabel{name: ln, value: v, hasValue: true})
		rest = strings.TrimPrefix(r, ",")
		if rest == r && !strings.HasPrefix(r, "}") {
			return fail("malformed constLabels")
		}
	}
	if rest, ok = strings.CutPrefix(rest, "}, variableLabels: {"); !ok {
		return fail("no variableLabels")
	}
	vars, ok := strings.CutSuffix(rest, "}}")
	if !ok {
		return fail("no closing braces")
	}
	if vars != "" {
		for _, ln := range strings.Split(vars, ",") {
			if c, ok := strings.CutPrefix(ln, "c("); ok {
				if ln, ok = strings.CutSuffix(c, ")"); !ok {
					return fail("malformed constrained label")
				}
			}
			labels = append(labels, descLabel{name: ln})
		}
	}
	if !model.LegacyValidation.IsValidMetricName(name) {
		return fail("name is not a legacy metric name")
	}
	if !utf8.ValidString(help) {
		return fail("help is not UTF-8")
	}
	for _, l := range labels {
		if !model.LegacyValidation.IsValidLabelName(l.name) || strings.HasPrefix(l.name, "__") {
			return fail(fmt.Sprintf("label name %q is not a legacy label name", l.name))
		}
	}
	// Series carry their labels sorted by name (client_golang sorts const
	// labels; the registry would sort a series' copy): so must the Desc's.
	sortLabels(labels)
	for i := 1; i < len(labels); i++ {
		if labels[i].name == labels[i-1].name {
			return fail("duplicate label name " + labels[i].name)
		}
	}
	var h []byte
	h = append(h, "# HELP "...)
	h = append(h, name...)
	h = append(h, ' ')
	h = appendEscaped(h, help, false)
	h = append(h, '\n')
	return &descInfo{name: name, help: h, labels: labels}
}

func sortLabels(l []descLabel) {
	for i := 1; i < len(l); i++ { // a handful of labels: insertion sort
		for j := i; j > 0 && l[j].name < l[j-1].name; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

// cutQuoted splits a Go-quoted string off the front of s.
func cutQuoted(s string) (value, rest string, ok bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", s, false
	}
	v, err := strconv.Unquote(q)
	if err != nil {
		return "", s, false
	}
	return v, s[len(q):], true
}

// appendText writes metrics in the text format into s.buf, the families
// in the order their first series came, each family's series in the
// order they came. An error (wrapping errNotDirect) means the response
// must go through the registry; s.buf is then garbage.
func (t *textWriter) appendText(s *textScratch, metrics []prometheus.Metric) error {
	// Group by Desc, keeping first-seen order: count, then place.
	for _, m := range metrics {
		d := m.Desc()
		i, ok := s.index[d]
		if !ok {
			i = len(s.groups)
			s.index[d] = i
			s.groups = append(s.groups, textGroup{desc: d})
		}
		s.groups[i].count++
	}
	n := 0
	for i := range s.groups {
		s.groups[i].start = n
		n += s.groups[i].count
		s.groups[i].count = 0
	}
	if cap(s.members) < n {
		s.members = make([]prometheus.Metric, n)
	}
	s.members = s.members[:n]
	for _, m := range metrics {
		g := &s.groups[s.index[m.Desc()]]
		s.members[g.start+g.count] = m
		g.count++
	}

	for _, g := range s.groups {
		di := t.info(g.desc)
		if di.err != nil {
			return di.err
		}
		if _, dup := s.names[di.name]; dup {
			return fmt.Errorf("%w: two Descs named %s", errNotDirect, di.name)
		}
		s.names[di.name] = struct{}{}
		var typ dto.MetricType = -1
		for _, m := range s.members[g.start : g.start+g.count] {
			s.m.Reset()
			if err := m.Write(&s.m); err != nil {
				return fmt.Errorf("%w: writing a %s series: %w", errNotDirect, di.name, err)
			}
			mt, v, ok := valueOf(&s.m)
			if !ok {
				return fmt.Errorf("%w: a %s series is not a single gauge, counter or untyped value", errNotDirect, di.name)
			}
			if typ == -1 {
				typ = mt
				s.buf.Write(di.help)
				s.buf.WriteString("# TYPE ")
				s.buf.WriteString(di.name)
				switch mt {
				case dto.MetricType_COUNTER:
					s.buf.WriteString(" counter\n")
				case dto.MetricType_GAUGE:
					s.buf.WriteString(" gauge\n")
				default:
					s.buf.WriteString(" untyped\n")
				}
			} else if mt != typ {
				return fmt.Errorf("%w: %s series of types %s and %s", errNotDirect, di.name, typ, mt)
			}
			if err := checkLabels(s.m.Label, di); err != nil {
				return err
			}
			s.buf.WriteString(di.name)
			for i, l := range s.m.Label {
				if i == 0 {
					s.buf.WriteByte('{')
				} else {
					s.buf.WriteByte(',')
				}
				s.buf.WriteString(l.GetName())
				s.buf.WriteString(`="`)
				writeEscaped(&s.buf, l.GetValue())
				s.buf.WriteByte('"')
			}
			if len(s.m.Label) > 0 {
				s.buf.WriteByte('}')
			}
			s.buf.WriteByte(' ')
			s.num = appendFloat(s.num[:0], v)
			if s.m.TimestampMs != nil {
				s.num = append(s.num, ' ')
				s.num = strconv.AppendInt(s.num, s.m.GetTimestampMs(), 10)
			}
			s.num = append(s.num, '\n')
			s.buf.Write(s.num)
		}
	}
	return nil
}

// valueOf returns the type and value of a single-value series.
func valueOf(m *dto.Metric) (dto.MetricType, float64, bool) {
	if m.Summary != nil || m.Histogram != nil {
		return 0, 0, false
	}
	switch {
	case m.Gauge != nil && m.Counter == nil && m.Untyped == nil:
		return dto.MetricType_GAUGE, m.Gauge.GetValue(), true
	case m.Counter != nil && m.Gauge == nil && m.Untyped == nil:
		return dto.MetricType_COUNTER, m.Counter.GetValue(), true
	case m.Untyped != nil && m.Gauge == nil && m.Counter == nil:
		return dto.MetricType_UNTYPED, m.Untyped.GetValue(), true
	}
	return 0, 0, false
}

// checkLabels checks a series' labels against its Desc, as the registry
// does: the same names, in order, const labels with their values, every
// value valid UTF-8.
func checkLabels(labels []*dto.LabelPair, di *descInfo) error {
	if len(labels) != len(di.labels) {
		return fmt.Errorf("%w: a %s series has %d labels, its Desc %d", errNotDirect, di.name, len(labels), len(di.labels))
	}
	for i, l := range labels {
		want := &di.labels[i]
		if l.GetName() != want.name || want.hasValue && l.GetValue() != want.value {
			return fmt.Errorf("%w: the labels of a %s series do not match its Desc", errNotDirect, di.name)
		}
		if !utf8.ValidString(l.GetValue()) {
			return fmt.Errorf("%w: a %s series has a label value that is not UTF-8", errNotDirect, di.name)
		}
	}
	return nil
}

// writeEscaped writes a label value escaped for the text format:
// backslash, double quote and line feed.
func writeEscaped(b *bytes.Buffer, v string) {
	start := 0
	for i := 0; i < len(v); i++ {
		var esc string
		switch v[i] {
		case '\\':
			esc = `\\`
		case '"':
			esc = `\"`
		case '\n':
			esc = `\n`
		default:
			continue
		}
		b.WriteString(v[start:i])
		b.WriteString(esc)
		start = i + 1
	}
	b.WriteString(v[start:])
}

// appendEscaped appends v escaped for the text format: backslash and line
// feed, and the double quote when quoted.
func appendEscaped(b []byte, v string, quoted bool) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quoted:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats f as expfmt does: 0 (for -0 too), NaN, +Inf, -Inf,
// else the shortest 'g' form.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 0: // -0 too, as expfmt writes it
		return append(b, '0')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
