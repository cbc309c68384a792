package exporter

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// debugScrape fetches /ipmi?debug=true for target.
func (h *harness) debugScrape(t *testing.T, target string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/?debug=true&target="+target, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content type %q:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return string(body)
}

// TestDebugShowsWhy: debug=true answers with the scrape's log, the
// metrics and the module, and the log says why a collector is down: the
// login's attempts with their lookup mode, or the completion code of the
// request that failed. No secret appears.
func TestDebugShowsWhy(t *testing.T) {
	f := startFleet(t, "dual-socket-1u", 1)
	target := f.BMCs()[0].Addr().String()

	t.Run("refused login", func(t *testing.T) {
		h := newHarness(t, moduleYAML(simUser, "not-the-password", ""))
		out := h.debugScrape(t, target)
		for _, want := range []string{
			"Logs for the scrape:",
			"session=\"login attempt\"", "lookup=\"name-only lookup\"", "wrong password",
			"cannot open BMC session",
			"Metrics that would have been returned:", `ipmi_up{collector="ipmi"} 0`,
			"Module configuration:",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("debug output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "not-the-password") {
			t.Errorf("debug output shows the password:\n%s", out)
		}
	})
	t.Run("collector down", func(t *testing.T) {
		h := newHarness(t, moduleYAML(simUser, simPassword, "    collectors: [bmc, lan]\n"))
		out := h.debugScrape(t, target)
		for _, want := range []string{
			"session=request command=get_device_id result=ok",
			`ipmi_up{collector="bmc"} 1`,
			`session="cipher suites" offered="[0 1 2 3 6 7 8 11 12 15 16 17]"`,
			// The user account may not read the LAN configuration.
			`completion_code="0xd4 (insufficient privilege level)"`,
			`msg="collector needs a higher privilege" collector=lan`, // not the BMC failing
			`ipmi_up{collector="lan"} 0`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("debug output lacks %q:\n%s", want, out)
			}
		}
	})
}
