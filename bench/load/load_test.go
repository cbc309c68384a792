package load

import (
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets("127.0.0.1:20000-20002, [::1]:623")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:20000", "127.0.0.1:20001", "127.0.0.1:20002", "[::1]:623"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{"", "x", "h:5-2", "h:a-b"} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCountUp(t *testing.T) {
	body := []byte("# HELP ipmi_up x\nipmi_up{collector=\"a\"} 1\nipmi_up{collector=\"b\"} 0\nipmi_upx 1\nipmi_up{collector=\"c\"} 1")
	if up, down := countUp(body); up != 2 || down != 1 {
		t.Fatalf("up %d down %d", up, down)
	}
}

func TestRunAndSummarize(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds") != "0.5" {
			t.Errorf("timeout header %q", r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"))
		}
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			defer zw.Close()
			fmt.Fprintln(zw, `ipmi_up{collector="ipmi"} 1`)
			return
		}
		switch r.URL.Query().Get("target") {
		case "h:2":
			fmt.Fprintln(w, `ipmi_up{collector="ipmi"} 0`)
		case "h:3":
			time.Sleep(700 * time.Millisecond)
		default:
			fmt.Fprintln(w, `ipmi_up{collector="ipmi"} 1`)
		}
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL, Targets: []string{"h:1", "h:2", "h:3"}, Module: "m",
		Concurrency: 2, Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond}
	scrapes := Run(context.Background(), cfg, 2)
	if len(scrapes) != 6 {
		t.Fatalf("%d scrapes", len(scrapes))
	}
	st := Summarize(scrapes, cfg.Timeout)
	if st.OK != 2 || st.UpFailures != 2 || st.Timeouts != 2 || st.InsideTimeout != 4 {
		t.Fatalf("stats %+v", st)
	}
	if st.P50 <= 0 || st.Max < 500 {
		t.Fatalf("latencies %+v", st)
	}
	cfg.Gzip = true
	if st := Summarize(Run(context.Background(), cfg, 1), cfg.Timeout); st.OK != 3 {
		t.Fatalf("gzip: %+v", st)
	}
}

func TestRunContinuesSchedule(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `ipmi_up{collector="ipmi"} 1`)
	}))
	defer srv.Close()
	start := time.Now()
	cfg := Config{URL: srv.URL, Targets: []string{"h:1", "h:2"}, Interval: 200 * time.Millisecond,
		Timeout: time.Second, Start: start, FirstRound: 1}
	scrapes := Run(context.Background(), cfg, 1)
	if len(scrapes) != 2 || scrapes[0].Round != 1 {
		t.Fatalf("%+v", scrapes)
	}
	// Round 1 of the first target is due at start+200ms, of the second
	// at start+300ms: Run must have waited for them.
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("returned after %v", el)
	}
}
