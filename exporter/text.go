package exporter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// The writer knows the metric families the collectors define
// (collector.Families): their names, help, types and labels, checked once
// when the Exporter is made. It still checks each series against its
// family (labels, type, valid UTF-8) and that no two families share a
// name; a series of a family it does not know, or one that fails a check,
// sends the whole response through the registry instead, counted in
// ipmi_fleet_exporter_text_fallbacks_total.

// errNotDirect wraps every reason the direct writer gives up; the reasons
// below name the fallbacks metric's reason label.
var errNotDirect = errors.New("not writable directly")

var (
	errUnknownFamily = fmt.Errorf("%w: unknown family", errNotDirect)
	errBadFamily     = fmt.Errorf("%w: family not writable", errNotDirect)
	errBadSeries     = fmt.Errorf("%w: series does not match its family", errNotDirect)
)

// fallbackReason is the reason label of a fallback error.
func fallbackReason(err error) string {
	switch {
	case errors.Is(err, errUnknownFamily):
		return "unknown_family"
	case errors.Is(err, errBadFamily):
		return "invalid_family"
	}
	return "invalid_series"
}

// fallbackReasons are every value of the reason label, so each series
// exists from the start.
var fallbackReasons = [...]string{"unknown_family", "invalid_family", "invalid_series"}

// textFamily is what the text writer needs of a metric family;
// *collector.Family is one.
type textFamily interface {
	Name() string
	Help() string
	Type() prometheus.ValueType
	Labels() []string
	Desc() *prometheus.Desc
}

// descInfo is what the text writer prints and checks for one family.
type descInfo struct {
	err    error  // why the family cannot be written directly
	name   string // fully qualified name, a legacy-valid metric name
	help   []byte // "# HELP name help\n# TYPE name type\n", escaped
	typ    dto.MetricType
	labels []string // sorted, as series carry them
}

// newDescInfo checks a family and prepares its header lines.
func newDescInfo(f textFamily) *descInfo {
	name := f.Name()
	fail := func(why string) *descInfo {
		return &descInfo{err: fmt.Errorf("%w: %s: %s", errBadFamily, name, why)}
	}
	if !model.LegacyValidation.IsValidMetricName(name) {
		return fail("name is not a legacy metric name")
	}
	help := f.Help()
	if !utf8.ValidString(help) {
		return fail("help is not UTF-8")
	}
	var typ dto.MetricType
	var typeLine string
	switch f.Type() {
	case prometheus.GaugeValue:
		typ, typeLine = dto.MetricType_GAUGE, " gauge\n"
	case prometheus.CounterValue:
		typ, typeLine = dto.MetricType_COUNTER, " counter\n"
	case prometheus.UntypedValue:
		typ, typeLine = dto.MetricType_UNTYPED, " untyped\n"
	default:
		return fail("not a gauge, counter or untyped family")
	}
	labels := f.Labels()
	slices.Sort(labels)
	for i, l := range labels {
		if !model.LegacyValidation.IsValidLabelName(l) || strings.HasPrefix(l, "__") {
			return fail(fmt.Sprintf("label name %q is not a legacy label name", l))
		}
		if i > 0 && labels[i-1] == l {
			return fail("duplicate label name " + l)
		}
	}
	var h []byte
	h = append(h, "# HELP "...)
	h = append(h, name...)
	h = append(h, ' ')
	h = appendEscaped(h, help, false)
	h = append(h, "\n# TYPE "...)
	h = append(h, name...)
	h = append(h, typeLine...)
	return &descInfo{name: name, help: h, typ: typ, labels: labels}
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

// textWriter holds the families and the scratch pool of an Exporter.
type textWriter struct {
	// descs is filled by newTextWriter and only read after.
	descs     map[*prometheus.Desc]*descInfo
	scratchs  sync.Pool
	fallbacks *prometheus.CounterVec
}

// newTextWriter returns a writer for the given families.
func newTextWriter(families []textFamily) *textWriter {
	t := &textWriter{
		descs: make(map[*prometheus.Desc]*descInfo, len(families)),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipmi_fleet_exporter_text_fallbacks_total",
			Help: "Scrape responses in the text format written through a registry instead of directly, by reason (unknown_family, invalid_family, invalid_series).",
		}, []string{"reason"}),
	}
	for _, r := range fallbackReasons {
		t.fallbacks.WithLabelValues(r)
	}
	for _, f := range families {
		t.descs[f.Desc()] = newDescInfo(f)
	}
	return t
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
		di := t.descs[g.desc]
		if di == nil {
			return fmt.Errorf("%w: %s", errUnknownFamily, g.desc)
		}
		if di.err != nil {
			return di.err
		}
		if _, dup := s.names[di.name]; dup {
			return fmt.Errorf("%w: two families named %s", errBadFamily, di.name)
		}
		s.names[di.name] = struct{}{}
		s.buf.Write(di.help)
		for _, m := range s.members[g.start : g.start+g.count] {
			s.m.Reset()
			if err := m.Write(&s.m); err != nil {
				return fmt.Errorf("%w: writing a %s series: %w", errBadSeries, di.name, err)
			}
			mt, v, ok := valueOf(&s.m)
			if !ok {
				return fmt.Errorf("%w: a %s series is not a single gauge, counter or untyped value", errBadSeries, di.name)
			}
			if mt != di.typ {
				return fmt.Errorf("%w: a %s series of type %s in a %s family", errBadSeries, di.name, mt, di.typ)
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

// checkLabels checks a series' labels against its family, as the registry
// does against the Desc: the same names, sorted, every value valid UTF-8.
func checkLabels(labels []*dto.LabelPair, di *descInfo) error {
	if len(labels) != len(di.labels) {
		return fmt.Errorf("%w: a %s series has %d labels, its family %d", errBadSeries, di.name, len(labels), len(di.labels))
	}
	for i, l := range labels {
		if l.GetName() != di.labels[i] {
			return fmt.Errorf("%w: the labels of a %s series do not match its family", errBadSeries, di.name)
		}
		if !utf8.ValidString(l.GetValue()) {
			return fmt.Errorf("%w: a %s series has a label value that is not UTF-8", errBadSeries, di.name)
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
