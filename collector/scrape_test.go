package collector

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// tool returns the path of an external command (see testbed.RequireTool).
func tool(t *testing.T, name string) string { return testbed.RequireTool(t, name) }

// promtoolAccepted are the lint findings the metric names fixed by the
// specification cause: ipmi_sel_logs_count is ipmi_exporter's name.
var promtoolAccepted = []string{
	`ipmi_sel_logs_count non-histogram and non-summary metrics should not have "_count" suffix`,
}

// busyScrape scrapes a BMC of every profile with every collector, after
// pushing sensors into warning and critical ranges and asserting discrete
// states, so that every kind of series appears.
func busyScrape(t *testing.T, profile string) *result {
	t.Helper()
	f := newFixture(t, loadProfile(t, profile), Catalog().Names()...)
	for _, s := range f.bmc.Sensors() {
		switch {
		case s.Record == model.RecordEventOnly:
		case s.EventType.IsThreshold() && s.Thresholds.UNC != nil:
			_ = f.bmc.SetSensorValue(s.Name, *s.Thresholds.UNC)
		case s.EventType.IsDiscrete():
			for off := uint16(0); off < 15; off++ {
				_ = f.bmc.SetSensorStates(s.Name, 1<<off) // the last supported one stays
			}
		}
	}
	f.scrape(t)
	r, _ := f.scrape(t)
	for _, c := range Catalog().Names() {
		want := 1.0 // edge-node has no DCMI, and its dcmi collector is still up
		if got := r.up(t, c); got != want {
			t.Errorf("%s: ipmi_up{collector=%q} %v, want %v", profile, c, got, want)
		}
	}
	return r
}

func TestExpositionPassesPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	for _, profile := range builtinProfiles {
		t.Run(profile, func(t *testing.T) {
			r := busyScrape(t, profile)
			var buf bytes.Buffer
			enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range r.list {
				if err := enc.Encode(mf); err != nil {
					t.Fatal(err)
				}
			}
			for _, fam := range []string{"ipmi_sensor_discrete_state", "ipmi_sensor_threshold", "ipmi_bmc_lan_info",
				"ipmi_sel_events_count_by_state", "ipmi_chassis_intrusion_state"} {
				if !strings.Contains(buf.String(), "\n"+fam) {
					t.Errorf("exposition lacks %s", fam)
				}
			}
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(buf.Bytes())
			out, err := cmd.CombinedOutput()
			var problems []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				line = strings.TrimSpace(line)
				if line == "" {
					continue
				}
				accepted := false
				for _, a := range promtoolAccepted {
					accepted = accepted || line == a
				}
				if !accepted {
					problems = append(problems, line)
				}
			}
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("promtool: %v", err)
			}
			if len(problems) > 0 {
				t.Errorf("promtool check metrics:\n%s", strings.Join(problems, "\n"))
			}
			if err != nil && len(problems) == 0 && len(out) == 0 {
				t.Errorf("promtool failed without output: %v", err)
			}
		})
	}
}

func TestOpenErrorReportsEveryCollectorDown(t *testing.T) {
	m := &config.Module{Name: "x", Collectors: Catalog().Names()}
	metrics, broken := Scrape(context.Background(), &Target{Module: m}, errors.New("no session"), nil)
	r := gather(t, metrics)
	for _, c := range Catalog().Names() {
		if got := r.up(t, c); got != 0 {
			t.Errorf("%s up %v with no session", c, got)
		}
	}
	if broken || !r.has("ipmi_scrape_duration_seconds") || len(r.list) != 2 {
		t.Errorf("broken %v, families %d: want only ipmi_up and the duration", broken, len(r.list))
	}
}

func TestScrapeWithoutStateStillWorks(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorIPMI, config.CollectorSEL)
	f.target.State = nil
	r, _ := f.scrape(t)
	if r.up(t, config.CollectorIPMI) != 1 || r.up(t, config.CollectorSEL) != 1 {
		t.Error("a Target without State must still be scraped")
	}
	checkSensorsMatch(t, f.bmc, r)
}

func TestBrokenSessionIsReported(t *testing.T) {
	f := newFixture(t, loadProfile(t, "edge-node"), config.CollectorChassis)
	sessionLost := errors.New("session lost")
	f.tr.intercept = func(context.Context, wire.Target, command.Op, []byte) (wire.CompletionCode, []byte, bool, error) {
		return 0, nil, false, sessionLost
	}
	metrics, broken := Scrape(context.Background(), f.target, nil, func(err error) bool { return errors.Is(err, sessionLost) })
	if !broken {
		t.Error("a session error was not reported as broken")
	}
	if r := gather(t, metrics); r.up(t, config.CollectorChassis) != 0 {
		t.Error("chassis up after a session error")
	}
}

func TestStateValue(t *testing.T) {
	if !math.IsNaN(stateValue(0)) || stateValue(1) != 0 || stateValue(2) != 1 || stateValue(3) != 2 || stateValue(4) != 2 {
		t.Error("state values: want unknown NaN, nominal 0, warning 1, critical 2, non-recoverable 2")
	}
}
