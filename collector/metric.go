package collector

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sample is a gauge whose label pairs were built once, when the sensor
// table was prepared, and are shared by every scrape: client_golang treats
// the Label slice a Metric writes as immutable, so sharing it is safe.
// Building a sample costs no allocation beyond the sample itself, where
// prometheus.MustNewConstMetric validates and copies every label value on
// every call.
type sample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // sorted by name, len == cap
	value  float64
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	v := s.value
	m.Gauge = &dto.Gauge{Value: &v}
	return nil
}

// labelSet builds the sorted label pairs of one series. Values must be
// valid UTF-8 (see labelValue).
func labelSet(nameValue ...string) []*dto.LabelPair {
	pairs := make([]*dto.LabelPair, 0, len(nameValue)/2)
	for i := 0; i+1 < len(nameValue); i += 2 {
		pairs = append(pairs, labelPair(nameValue[i], nameValue[i+1]))
	}
	return sortedPairs(pairs)
}

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// withPair returns the sorted union of pairs and p in a new slice; pairs is
// not modified, so one sensor's id and name pairs serve many series.
func withPair(pairs []*dto.LabelPair, p ...*dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(pairs)+len(p))
	out = append(out, pairs...)
	out = append(out, p...)
	return sortedPairs(out)
}

func sortedPairs(pairs []*dto.LabelPair) []*dto.LabelPair {
	slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return pairs[:len(pairs):len(pairs)]
}

// labelValue makes a BMC-supplied string usable as a label value: invalid
// UTF-8 (an ID string in an unexpected encoding) would make the registry
// reject the whole scrape.
func labelValue(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Family is one metric family, defined once: its name, help, type and
// variable labels give both the prometheus.Desc the collectors' series
// carry and what the exporter's text writer prints for the family
// (Families lists them all). Families are package-level descriptors,
// never changed after they are made.
type Family struct {
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
	desc   *prometheus.Desc
}

// newFamily defines the family ipmi_<name>. Every series of it is of type
// typ and carries exactly labels.
func newFamily(name, help string, typ prometheus.ValueType, labels ...string) *Family {
	fq := namespace + "_" + name
	return &Family{
		name:   fq,
		help:   help,
		typ:    typ,
		labels: labels,
		desc:   prometheus.NewDesc(fq, help, labels, nil),
	}
}

// Name is the fully qualified metric name.
func (f *Family) Name() string { return f.name }

// Help is the HELP text.
func (f *Family) Help() string { return f.help }

// Type is the type of every series of the family.
func (f *Family) Type() prometheus.ValueType { return f.typ }

// Labels returns the variable label names, in Desc order.
func (f *Family) Labels() []string { return slices.Clone(f.labels) }

// Desc is the Desc every series of the family carries.
func (f *Family) Desc() *prometheus.Desc { return f.desc }

// metric is prometheus.MustNewConstMetric for the family.
func (f *Family) metric(v float64, labelValues ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(f.desc, f.typ, v, labelValues...)
}
