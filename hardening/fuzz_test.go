package hardening

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/exporter"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
)

// fuzzAllowed is the allow list of the fuzzed module: documentation
// networks and a glob, so nothing the fuzzer finds could reach a real BMC
// even if it were dialled.
const fuzzConfig = `modules:
  default:
    user: monitor
    pass: fuzz-password
    timeout: 1000
    allowed_targets: [192.0.2.0/24, "2001:db8::/32", "bmc-*.example.test"]
  other:
    user: monitor
    pass: fuzz-password
    timeout: 1000
    allowed_targets: [198.51.100.7]
`

var errNoDial = errors.New("fuzz: dialling is not allowed")

// noDialHandler is the real /ipmi handler over a real pool whose dialer
// never sends anything: it records the address it was asked for and fails.
type noDialHandler struct {
	x     *exporter.Exporter
	pool  *pool.Pool
	store *config.Store
	mu    sync.Mutex
	dials []string
}

func newNoDialHandler(t testing.TB) *noDialHandler {
	t.Helper()
	cfg, _, err := config.Parse([]byte(fuzzConfig), "fuzz.yml", collector.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	store, err := config.NewFixedStore(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &noDialHandler{store: store, pool: pool.New(pool.Options{MaxInFlight: 8}, nil)}
	h.x = exporter.New(exporter.Options{
		Store: store,
		Pool:  h.pool,
		Dial: func(_ context.Context, addr string, _ *config.Module) (ipmi.Transport, error) {
			h.mu.Lock()
			h.dials = append(h.dials, addr)
			h.mu.Unlock()
			return nil, errNoDial
		},
		IsSessionBroken: exporter.IsSessionBroken,
		TimeoutOffset:   500 * time.Millisecond,
		Logger:          log.NewNopLogger(),
	})
	t.Cleanup(func() { h.pool.Close(context.Background()) })
	return h
}

func (h *noDialHandler) dialCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.dials)
}

// check serves one request with the given raw query and checks the
// handler's contract: 400 with a one-line reason and no dial, or 200 with
// a parseable exposition after dialling exactly one allowed address.
func (h *noDialHandler) check(t *testing.T, rawQuery string) {
	before := h.dialCount()
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Path: "/ipmi", RawQuery: rawQuery},
		Header:     http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"2"}},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1,
	}
	req = req.WithContext(context.Background())
	rec := httptest.NewRecorder()
	h.x.ServeHTTP(rec, req)
	body := rec.Body.String()
	dialled := h.dialCount() - before
	switch rec.Code {
	case http.StatusBadRequest:
		if dialled != 0 {
			t.Fatalf("query %q: 400 after dialling %d times", rawQuery, dialled)
		}
		reason := strings.TrimSuffix(body, "\n")
		if reason == "" || strings.Contains(reason, "\n") || len(reason) > 512 {
			t.Fatalf("query %q: 400 without a one-line reason: %q", rawQuery, truncate(body, 1000))
		}
	case http.StatusOK:
		if dialled != 1 {
			t.Fatalf("query %q: 200 after %d dials, want 1", rawQuery, dialled)
		}
		if _, err := parseExposition(body); err != nil {
			t.Fatalf("query %q: unparseable 200: %v", rawQuery, err)
		}
		q, _ := url.ParseQuery(rawQuery)
		m, ok := h.store.Current().Module(q.Get("module"))
		if !ok {
			t.Fatalf("query %q: 200 for an unknown module", rawQuery)
		}
		h.mu.Lock()
		addr := h.dials[len(h.dials)-1]
		h.mu.Unlock()
		if err := m.TargetAllowed(addr); err != nil {
			t.Fatalf("query %q: dialled %q outside module %s's allowed_targets: %v", rawQuery, addr, m.Name, err)
		}
	default:
		t.Fatalf("query %q: HTTP %d: %q", rawQuery, rec.Code, truncate(body, 300))
	}
}

var scrapeParamSeeds = [][2]string{
	{"192.0.2.1", ""}, {"192.0.2.1:623", "default"}, {"[2001:db8::1]:6230", ""}, {"2001:db8::1", ""},
	{"bmc-1.example.test", ""}, {"bmc-1.example.test:1", "default"}, {"198.51.100.7", "other"},
	{"198.51.100.7", ""}, {"192.0.2.1", "other"}, {"10.0.0.1", ""}, {"[::1]:623", ""}, {"localhost", ""},
	{"192.0.2.1:70000", ""}, {"192.0.2.1:0", ""}, {"192.0.2.1:-1", ""}, {"192.0.2.1:", ""}, {"[2001:db8::1", ""},
	{"fe80::1%eth0", ""}, {"[fe80::1%25eth0]:623", ""}, {"::ffff:192.0.2.1", ""}, {"192.0.2.1\x00", ""},
	{"bmc-1.example.test.", ""}, {"BMC-1.EXAMPLE.TEST", ""}, {"bmc-.example.test", ""}, {"*.example.test", ""},
	{"http://192.0.2.1/", ""}, {"192.0.2.1/24", ""}, {"0x7f.1", ""}, {"3221225985", ""}, {"nx.example.test", ""},
	{strings.Repeat("a", 300), ""}, {"192.0.2.1", strings.Repeat("m", 300)}, {"192.0.2.1", "default\n"},
	{"", ""}, {"192.0.2.1", "nosuch"}, {"192.0.2.1 ", ""}, {" 192.0.2.1", ""},
}

// FuzzScrapeParams sends arbitrary target and module values, properly
// encoded, through the real handler.
func FuzzScrapeParams(f *testing.F) {
	for _, s := range scrapeParamSeeds {
		f.Add(s[0], s[1])
	}
	h := newNoDialHandler(f)
	f.Fuzz(func(t *testing.T, target, module string) {
		q := url.Values{"target": {target}}
		if module != "" {
			q.Set("module", module)
		}
		h.check(t, q.Encode())
	})
}

// FuzzScrapeQuery sends arbitrary raw query strings (repeated and
// malformed parameters, bad escapes, over-long input) through the real
// handler.
func FuzzScrapeQuery(f *testing.F) {
	for _, s := range []string{
		"target=192.0.2.1", "target=192.0.2.1&target=192.0.2.2", "target=192.0.2.1&module=default&module=other",
		"target=%zz", "target=192.0.2.1;module=other", "module=default", "", "&&&", "target", "target=",
		"target=%5B2001:db8::1%5D:623", "target=192.0.2.1&x=" + strings.Repeat("y", 5000),
		"target=bmc-1.example.test%00", "target=192.0.2.1%0d%0aX-Injected:1", "target=192.0.2.1#frag",
	} {
		f.Add(s)
	}
	h := newNoDialHandler(f)
	f.Fuzz(func(t *testing.T, raw string) { h.check(t, raw) })
}

// FuzzReload loads arbitrary files through the config Store as a reload
// does (config/'s FuzzParse covers the parser itself): a failed reload
// keeps the previous config in force, and no error or warning ever shows
// what pass_file or kg_file contain.
func FuzzReload(f *testing.F) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(file))
	for _, path := range []string{"config.example.yml", "config/testdata/ipmi_remote.yml"} {
		if data, err := os.ReadFile(filepath.Join(repo, path)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("modules:\n  default:\n    user: u\n    pass_file: pw\n    kg_file: kg\n"))
	f.Add([]byte("modules:\n  default:\n    user: u\n    pass_file: kg\n"))
	f.Add([]byte("modules:\n  default:\n    user: u\n    pass_file: pw\n    kg_file: pw\n"))
	f.Add([]byte("modules:\n  default:\n    pass_file: [pw]\n"))
	const passSecret, kgSecret = "Pz7-file-secret-Qx", "0x5365637265744b47"
	dir := f.TempDir()
	writeFile(f, dir, "pw", passSecret+"\n", 0o600)
	// kg holds a key the password field refuses (too long for 20
	// bytes) and both read as text in error paths.
	writeFile(f, dir, "kg", kgSecret+"\n", 0o600)
	good := writeFile(f, dir, "config.yml", "modules:\n  default:\n    user: u\n    pass_file: pw\n", 0o600)
	store, _, err := config.NewStore(good, nil, collector.Catalog())
	if err != nil {
		f.Fatal(err)
	}
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		if err := os.WriteFile(good, data, 0o600); err != nil {
			t.Fatal(err)
		}
		before := store.Current()
		warnings, err := store.Reload()
		var texts []string
		for _, w := range warnings {
			texts = append(texts, w.String())
		}
		if err != nil {
			if store.Current() != before {
				t.Fatal("a failed reload replaced the config")
			}
			texts = append(texts, err.Error())
		} else if store.Current() == nil {
			t.Fatal("a successful reload left no config")
		}
		for _, s := range texts {
			for _, secret := range []string{passSecret, kgSecret, "SecretKG"} {
				if strings.Contains(s, secret) {
					t.Fatalf("reload message shows a secret file's content: %q", s)
				}
			}
		}
	})
}
