package exporter

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// collectProfile scrapes one simulated BMC of profile twice (cold, then
// warm) and returns an Exporter and the warm scrape's metrics.
func collectProfile(t testing.TB, profile string) (*Exporter, []prometheus.Metric) {
	t.Helper()
	fleet := startFleet(t, profile, 1)
	x, store, _ := newTestExporter(t, moduleYAML(simUser, simPassword, ""), 4, nil)
	m, ok := store.Current().Module(config.DefaultModuleName)
	if !ok {
		t.Fatal("no default module")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := fleet.BMC(0).Addr().String()
	x.collect(ctx, addr, m, m, log.NewNopLogger())
	metrics, _ := x.collect(ctx, addr, m, m, log.NewNopLogger())
	return x, metrics
}

// render answers a scrape of metrics through writeMetrics, by the direct
// writer or the registry, gzipped or not, and returns the decoded body.
func render(t testing.TB, x *Exporter, metrics []prometheus.Metric, registry, gz bool) string {
	t.Helper()
	x.registryText = registry
	defer func() { x.registryText = false }()
	req := httptest.NewRequest(http.MethodGet, "/?target=x", nil)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	x.writeMetrics(rec, req, metrics, log.NewNopLogger())
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q", ct)
	}
	body := rec.Body.Bytes()
	if gz {
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return string(body)
}

func parseText(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, text)
	}
	return mfs
}

// seriesKey is a series' labels in a canonical form.
func seriesKey(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func seriesValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.Inf(-1) // not expected here
}

func sameFloat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

// diffFamilies compares two parsed expositions: same families, help,
// type, and set of series with equal values (NaN equals NaN).
func diffFamilies(got, want map[string]*dto.MetricFamily) []string {
	var diffs []string
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			diffs = append(diffs, "missing family "+name)
			continue
		}
		if g.GetHelp() != w.GetHelp() || g.GetType() != w.GetType() {
			diffs = append(diffs, fmt.Sprintf("%s: help/type %q/%s, want %q/%s", name, g.GetHelp(), g.GetType(), w.GetHelp(), w.GetType()))
		}
		gs := map[string]float64{}
		for _, m := range g.GetMetric() {
			if _, dup := gs[seriesKey(m)]; dup {
				diffs = append(diffs, fmt.Sprintf("%s{%s} twice", name, seriesKey(m)))
			}
			gs[seriesKey(m)] = seriesValue(m)
		}
		if len(gs) != len(w.GetMetric()) {
			diffs = append(diffs, fmt.Sprintf("%s: %d series, want %d", name, len(gs), len(w.GetMetric())))
		}
		for _, m := range w.GetMetric() {
			v, ok := gs[seriesKey(m)]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s{%s} missing", name, seriesKey(m)))
			} else if !sameFloat(v, seriesValue(m)) {
				diffs = append(diffs, fmt.Sprintf("%s{%s} = %v, want %v", name, seriesKey(m), v, seriesValue(m)))
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, "extra family "+name)
		}
	}
	return diffs
}

// Over every simulator profile, the direct text exposition parses to what
// the registry path gives, gzipped or not.
func TestDirectTextMatchesRegistry(t *testing.T) {
	for _, profile := range []string{"dual-socket-1u", "gpu-box", "edge-node"} {
		t.Run(profile, func(t *testing.T) {
			x, metrics := collectProfile(t, profile)
			s := x.text.getScratch()
			if err := x.text.appendText(s, metrics); err != nil {
				t.Fatalf("the direct writer refused the scrape: %v", err)
			}
			x.text.putScratch(s)
			want := parseText(t, render(t, x, metrics, true, false))
			if !allUp(t, want) {
				t.Fatalf("collectors not all up: %v", upValues(want))
			}
			for _, gz := range []bool{false, true} {
				text := render(t, x, metrics, false, gz)
				if diffs := diffFamilies(parseText(t, text), want); len(diffs) > 0 {
					t.Errorf("gzip=%v: direct and registry expositions differ:\n%s", gz, strings.Join(diffs, "\n"))
				}
				if !gz {
					promtoolCheck(t, text)
				}
			}
		})
	}
}

// Label values and help that need escaping come out byte for byte as
// expfmt writes them.
func TestDirectTextEscaping(t *testing.T) {
	fam := newTestFamily("test_escape", "help \\ with\nnewline and \"quotes\"", prometheus.GaugeValue, "v", "c")
	desc := fam.Desc()
	var metrics []prometheus.Metric
	for i, v := range []string{
		"plain", `a "quoted" value`, `back\slash`, "new\nline", `\"\n`, strings.ToValidUTF8("bad \xff\xfe utf-8", "\uFFFD"), "",
	} {
		metrics = append(metrics, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, []float64{1, 0, -1, 0.5, math.Inf(1), math.NaN(), math.Copysign(0, -1)}[i], v, "const \"q\" \\"))
	}
	// Sorted as the registry sorts series, so the bytes can be compared.
	slices.SortFunc(metrics, func(a, b prometheus.Metric) int {
		var da, db dto.Metric
		a.Write(&da)
		b.Write(&db)
		return strings.Compare(da.GetLabel()[1].GetValue(), db.GetLabel()[1].GetValue())
	})
	x := New(Options{})
	x.text = newTextWriter([]textFamily{fam})
	s := x.text.getScratch()
	defer x.text.putScratch(s)
	if err := x.text.appendText(s, metrics); err != nil {
		t.Fatal(err)
	}
	want := render(t, x, metrics, true, false)
	if s.buf.String() != want {
		t.Fatalf("direct:\n%s\nregistry:\n%s", s.buf.String(), want)
	}
	mfs := parseText(t, want)
	if got := mfs["test_escape"].GetHelp(); got != "help \\ with\nnewline and \"quotes\"" {
		t.Errorf("help %q", got)
	}
	if n := len(mfs["test_escape"].GetMetric()); n != 7 {
		t.Errorf("%d series", n)
	}
}

// failingMetric is a metric whose Write fails.
type failingMetric struct{ desc *prometheus.Desc }

func (m failingMetric) Desc() *prometheus.Desc  { return m.desc }
func (m failingMetric) Write(*dto.Metric) error { return errors.New("no value") }

// rawMetric is a gauge that writes its label pairs as given.
type rawMetric struct {
	desc   *prometheus.Desc
	labels []string // name, value, ...
}

func (m rawMetric) Desc() *prometheus.Desc { return m.desc }
func (m rawMetric) Write(d *dto.Metric) error {
	for i := 0; i+1 < len(m.labels); i += 2 {
		d.Label = append(d.Label, &dto.LabelPair{Name: &m.labels[i], Value: &m.labels[i+1]})
	}
	v := 4.0
	d.Gauge = &dto.Gauge{Value: &v}
	return nil
}

// testFamily is a family defined by a test (the collectors' are
// collector.Family).
type testFamily struct {
	name, help string
	typ        prometheus.ValueType
	labels     []string
	desc       *prometheus.Desc
}

func newTestFamily(name, help string, typ prometheus.ValueType, labels ...string) *testFamily {
	return &testFamily{name: name, help: help, typ: typ, labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
}

func (f *testFamily) Name() string               { return f.name }
func (f *testFamily) Help() string               { return f.help }
func (f *testFamily) Type() prometheus.ValueType { return f.typ }
func (f *testFamily) Labels() []string           { return slices.Clone(f.labels) }
func (f *testFamily) Desc() *prometheus.Desc     { return f.desc }

// Metrics the direct writer cannot handle send the response through the
// registry, which serves them as before, and the fallback is counted by
// reason.
func TestDirectTextFallsBack(t *testing.T) {
	ok := newTestFamily("test_ok", "Fine.", prometheus.GaugeValue, "l")
	okMetric := prometheus.MustNewConstMetric(ok.Desc(), prometheus.GaugeValue, 1, "a")
	fam := func(name string, labels ...string) *testFamily {
		return newTestFamily(name, name+".", prometheus.GaugeValue, labels...)
	}
	dotted, fail, summary, histogram := fam("test.dotted"), fam("test_fail"), fam("test_summary"), fam("test_histogram")
	typed, other, utf8Fam, labelled, sorted := fam("test_typed", "l"), fam("test_ok", "m"), fam("test_utf8", "l"), fam("test_labels", "l"), fam("test_sorted", "a", "b")
	families := []textFamily{ok, dotted, fail, summary, histogram, typed, other, utf8Fam, labelled, sorted}
	for name, tc := range map[string]struct {
		foreign []prometheus.Metric
		reason  string
	}{
		"unknown family":     {[]prometheus.Metric{prometheus.MustNewConstMetric(prometheus.NewDesc("test_unknown", "Unknown.", nil, nil), prometheus.GaugeValue, 2)}, "unknown_family"},
		"utf-8 name":         {[]prometheus.Metric{prometheus.MustNewConstMetric(dotted.Desc(), prometheus.GaugeValue, 2)}, "invalid_family"},
		"invalid desc":       {[]prometheus.Metric{prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(errors.New("broken")), errors.New("broken"))}, "unknown_family"},
		"write error":        {[]prometheus.Metric{failingMetric{desc: fail.Desc()}}, "invalid_series"},
		"summary":            {[]prometheus.Metric{prometheus.MustNewConstSummary(summary.Desc(), 3, 1.5, map[float64]float64{0.5: 0.4})}, "invalid_series"},
		"histogram":          {[]prometheus.Metric{prometheus.MustNewConstHistogram(histogram.Desc(), 3, 1.5, map[float64]uint64{1: 2})}, "invalid_series"},
		"type of the family": {[]prometheus.Metric{prometheus.MustNewConstMetric(typed.Desc(), prometheus.CounterValue, 1, "b")}, "invalid_series"},
		"name of two descs":  {[]prometheus.Metric{prometheus.MustNewConstMetric(other.Desc(), prometheus.GaugeValue, 3, "b")}, "invalid_family"},
		"invalid utf-8":      {[]prometheus.Metric{rawMetric{desc: utf8Fam.Desc(), labels: []string{"l", "\xff"}}}, "invalid_series"},
		"labels not in desc": {[]prometheus.Metric{rawMetric{desc: labelled.Desc(), labels: []string{"k", "v"}}}, "invalid_series"},
		"unsorted labels":    {[]prometheus.Metric{rawMetric{desc: sorted.Desc(), labels: []string{"b", "1", "a", "2"}}}, "invalid_series"},
	} {
		t.Run(name, func(t *testing.T) {
			metrics := append([]prometheus.Metric{okMetric}, tc.foreign...)
			x := New(Options{})
			x.text = newTextWriter(families)
			s := x.text.getScratch()
			err := x.text.appendText(s, metrics)
			x.text.putScratch(s)
			if !errors.Is(err, errNotDirect) {
				t.Fatalf("direct writer error %v, want a fallback", err)
			}
			if got := fallbackReason(err); got != tc.reason {
				t.Errorf("fallback reason %s (%v), want %s", got, err, tc.reason)
			}
			for _, gz := range []bool{false, true} {
				got := render(t, x, metrics, false, gz)
				if want := render(t, x, metrics, true, gz); got != want {
					t.Errorf("gzip=%v: fallback answered\n%s\nregistry\n%s", gz, got, want)
				}
				if !strings.Contains(got, `test_ok{l="a"} 1`) {
					t.Errorf("gzip=%v: the valid series is missing:\n%s", gz, got)
				}
			}
			if n := testutil.ToFloat64(x.text.fallbacks.WithLabelValues(tc.reason)); n != 2 {
				t.Errorf("fallbacks{reason=%q} = %v after two direct attempts, want 2", tc.reason, n)
			}
		})
	}
}

// Formats other than the classic text go through the registry.
func TestDirectTextOnlyForText(t *testing.T) {
	for format, want := range map[expfmt.Format]bool{
		expfmt.NewFormat(expfmt.TypeTextPlain):                       true,
		expfmt.NewFormat(expfmt.TypeTextPlain) + "; escaping=values": true,
		expfmt.NewFormat(expfmt.TypeTextPlain) + "; escaping=dots":   false,
		expfmt.NewFormat(expfmt.TypeProtoDelim):                      false,
		expfmt.NewFormat(expfmt.TypeOpenMetrics):                     false,
	} {
		if got := directTextFormat(format); got != want {
			t.Errorf("directTextFormat(%q) = %v", format, got)
		}
	}
	// Prometheus 2.x's Accept header, and none at all.
	for _, accept := range []string{
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		"",
	} {
		h := http.Header{}
		if accept != "" {
			h.Set("Accept", accept)
		}
		if f := expfmt.Negotiate(h); !directTextFormat(f) {
			t.Errorf("Accept %q negotiates %q, not written directly", accept, f)
		}
	}
}

// newDescInfo prepares the header lines of a family and refuses what the
// text format cannot carry.
func TestNewDescInfo(t *testing.T) {
	d := newDescInfo(newTestFamily("a_b", "He\"lp\n", prometheus.CounterValue, "z", "b"))
	if d.err != nil {
		t.Fatal(d.err)
	}
	if d.name != "a_b" || string(d.help) != "# HELP a_b He\"lp\\n\n# TYPE a_b counter\n" || !slices.Equal(d.labels, []string{"b", "z"}) || d.typ != dto.MetricType_COUNTER {
		t.Fatalf("prepared %+v", d)
	}
	for _, f := range []*testFamily{
		newTestFamily("x y", "h", prometheus.GaugeValue),
		newTestFamily("x", "h", prometheus.GaugeValue, "a", "a"),
		newTestFamily("x", "h", prometheus.GaugeValue, "__a"),
		newTestFamily("x", "h", prometheus.GaugeValue, "a.b"),
		newTestFamily("x", "\xff", prometheus.GaugeValue),
		newTestFamily("x", "h", prometheus.ValueType(0)),
	} {
		if d := newDescInfo(f); !errors.Is(d.err, errBadFamily) {
			t.Errorf("newDescInfo(%+v) accepted: %+v", f, d)
		}
	}
}

// Every family the collectors define is one the direct writer accepts.
func TestCollectorFamiliesAreWritable(t *testing.T) {
	x := New(Options{})
	if len(x.text.descs) == 0 {
		t.Fatal("no families")
	}
	for desc, d := range x.text.descs {
		if d.err != nil {
			t.Errorf("%s: %v", desc, d.err)
		}
	}
}

// FuzzWriteText: whatever the help, label values and values, the direct
// exposition parses and carries them back, as the registry's does.
func FuzzWriteText(f *testing.F) {
	f.Add("help", "a", "b", 1.5)
	f.Add("back\\slash\nnew \"line\"", "\"quoted\"\n", `\`, math.NaN())
	f.Add("", "", "\xff", math.Inf(-1))
	f.Add("\r\t", "\u2028", "x\x00y", -0.0)
	f.Fuzz(func(t *testing.T, help, v1, v2 string, value float64) {
		help = strings.ToValidUTF8(help, "\uFFFD")
		v1, v2 = strings.ToValidUTF8(v1, "\uFFFD"), strings.ToValidUTF8(v2, "\uFFFD")
		fam := newTestFamily("fuzz_metric", help, prometheus.GaugeValue, "l", "c")
		desc := fam.Desc()
		metrics := []prometheus.Metric{prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, v1, v2)}
		if v2 != v1 {
			metrics = append(metrics, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, -value, v2, v2))
		}
		x := New(Options{})
		x.text = newTextWriter([]textFamily{fam})
		s := x.text.getScratch()
		defer x.text.putScratch(s)
		if err := x.text.appendText(s, metrics); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(s.buf.Bytes()) {
			t.Fatalf("not UTF-8: %q", s.buf.String())
		}
		got := parseText(t, s.buf.String())
		mf := got["fuzz_metric"]
		// The parser drops the help's leading and trailing blanks (from
		// the registry's exposition too: diffFamilies compares them).
		if mf.GetHelp() != help && help == strings.TrimSpace(help) || mf.GetType() != dto.MetricType_GAUGE || len(mf.GetMetric()) != len(metrics) {
			t.Fatalf("parsed %v from %q", mf, s.buf.String())
		}
		for i, m := range mf.GetMetric() {
			want := map[string]string{"c": v2, "l": []string{v1, v2}[i]}
			if l := labels(m); len(l) != 2 || l["c"] != want["c"] || l["l"] != want["l"] {
				t.Fatalf("series %d labels %q, want %q", i, l, want)
			}
			if w := []float64{value, -value}[i]; !sameFloat(m.GetGauge().GetValue(), w) {
				t.Fatalf("series %d value %v, want %v", i, m.GetGauge().GetValue(), w)
			}
		}
		if diffs := diffFamilies(got, parseText(t, render(t, x, metrics, true, false))); len(diffs) > 0 {
			t.Fatalf("direct and registry differ: %s", strings.Join(diffs, "; "))
		}
	})
}

// discardResponse is a ResponseWriter that drops the body.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardResponse) WriteHeader(int)             {}

// BenchmarkWriteMetrics compares the registry and the direct text writer
// on a warm scrape of the dual-socket-1u profile.
func BenchmarkWriteMetrics(b *testing.B) {
	x, metrics := collectProfile(b, "dual-socket-1u")
	b.Logf("%d series", len(metrics))
	for _, gz := range []bool{false, true} {
		for _, path := range []string{"registry", "direct"} {
			b.Run(fmt.Sprintf("gzip=%v/path=%s", gz, path), func(b *testing.B) {
				x.registryText = path == "registry"
				defer func() { x.registryText = false }()
				req := httptest.NewRequest(http.MethodGet, "/?target=x", nil)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				w := &discardResponse{h: http.Header{}}
				logger := log.NewNopLogger()
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					x.writeMetrics(w, req, metrics, logger)
				}
			})
		}
	}
}
