package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestReports(t *testing.T) {
	dir := t.TempDir()
	write := func(name, meta string, p50, cpu float64) {
		body := `{"label":"x","meta":` + meta + `,"ping_rtt_ms":{"p50":5},"phases":[` +
			`{"name":"cold","stats":{"scrapes":1,"ok_fraction":1,"p50_ms":100,"p99_ms":100}},` +
			`{"name":"warm","cores":0.5,"stats":{"scrapes":10,"ok_fraction":1,"inside_timeout_fraction":1,"p50_ms":` +
			ftoa(p50) + `,"p99_ms":20},"cpu_seconds_per_1000_scrapes":` + ftoa(cpu) +
			`,"relay_in_per_scrape":10,"rss_end_bytes":1048576}]}`
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, rtt := range []string{"0ms", "5ms"} {
		write("o-"+rtt+".json", `{"n":"1","rtt":"`+rtt+`","who":"ours","module":"w1","kind":"spread","rep":"1"}`, 50, 2)
		write("t-"+rtt+".json", `{"n":"1","rtt":"`+rtt+`","who":"theirs","module":"default","kind":"spread","rep":"1"}`, 100, 40)
	}
	write("s.json", `{"kind":"scale","n":"1000","latency":"0ms","rep":"1"}`, 3, 1)
	for i, cpu := range []float64{2.5, 2.4, 2.6} {
		rep := strconv.Itoa(i + 1)
		write("a"+rep+".json", `{"kind":"ab","build":"old","order":"0","rep":"`+rep+`"}`, 3, cpu)
		write("b"+rep+".json", `{"kind":"ab","build":"new","order":"1","rep":"`+rep+`"}`, 3, cpu-0.5)
	}
	rs, err := loadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	compareReport(&b, rs)
	if !strings.Contains(b.String(), "| 1 | 100.0 / 100.0 (1.00) |") || !strings.Contains(b.String(), "50.0 / 100.0 (0.50)") {
		t.Errorf("compare report:\n%s", b.String())
	}
	b.Reset()
	abReport(&b, rs)
	if !strings.Contains(b.String(), "| old | 2.50, 2.40, 2.60 | 2.50 | 1.00 | 10.0 | 100.0% |") ||
		!strings.Contains(b.String(), "| new | 2.00, 1.90, 2.10 | 2.00 | 0.80 |") {
		t.Errorf("ab report:\n%s", b.String())
	}
	b.Reset()
	scaleReport(&b, rs)
	if !strings.Contains(b.String(), "| 1000 | 0ms | 10 | 0.500 | 1.00 | 1 (–) | 1.0 |") {
		t.Errorf("scale report:\n%s", b.String())
	}
}

func ftoa(x float64) string { return num(x, 1) }

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Error(m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Error(m)
	}
}
