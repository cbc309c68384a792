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

// constMetric is prometheus.MustNewConstMetric for a gauge.
func constMetric(desc *prometheus.Desc, v float64, labelValues ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labelValues...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
