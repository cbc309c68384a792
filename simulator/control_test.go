package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// call sends one control request and decodes the JSON answer into out.
func call(t *testing.T, srv *httptest.Server, method, path, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

func TestControlAPI(t *testing.T) {
	f := modelFleet(t, "127.0.0.1", "dual-socket-1u", 3)
	srv := httptest.NewServer(f.ControlHandler())
	defer srv.Close()

	var fleet map[string]any
	call(t, srv, "GET", "/api/v1/fleet", "", 200, &fleet)
	if fleet["count"].(float64) != 3 || fleet["profile"] != "dual-socket-1u" || fleet["first"] != f.BMC(0).Addr().String() {
		t.Fatalf("fleet %v", fleet)
	}
	var list []bmcSummary
	call(t, srv, "GET", "/api/v1/bmcs", "", 200, &list)
	if len(list) != 3 || list[2].Addr != f.BMC(2).Addr().String() || list[2].PowerOn == nil || !*list[2].PowerOn {
		t.Fatalf("bmcs %+v", list)
	}

	// Sensor value: set, read back through the model, clear.
	var snap model.SensorSnapshot
	call(t, srv, "PUT", "/api/v1/bmcs/1/sensors/CPU1%20Temp", `{"value": 91.5}`, 200, &snap)
	if snap.Name != "CPU1 Temp" || snap.Value < 91 || snap.Value > 92 {
		t.Fatalf("sensor after set: %+v", snap)
	}
	for _, s := range f.BMC(1).Model().Sensors() {
		if s.Name == "CPU1 Temp" && s.Value != snap.Value {
			t.Fatalf("model value %v, API said %v", s.Value, snap.Value)
		}
	}
	call(t, srv, "PUT", "/api/v1/bmcs/1/sensors/No%20Such", `{"value": 1}`, 404, nil)
	call(t, srv, "PUT", "/api/v1/bmcs/1/sensors/CPU1%20Temp", `{"value": 1, "states": 2}`, 400, nil)
	call(t, srv, "PUT", "/api/v1/bmcs/1/sensors/CPU1%20Temp", `{"clear": true}`, 200, nil)
	var sensors []model.SensorSnapshot
	call(t, srv, "GET", "/api/v1/bmcs/1/sensors", "", 200, &sensors)
	if len(sensors) != len(f.BMC(1).Model().Sensors()) {
		t.Fatalf("%d sensors listed", len(sensors))
	}

	// SEL: add, clear.
	before := len(f.BMC(0).Model().SELEntries())
	var added map[string]any
	call(t, srv, "POST", "/api/v1/bmcs/0/sel", `{"sensor": "CPU1 Temp", "offset": 9, "age": "5m"}`, 201, &added)
	if got := len(f.BMC(0).Model().SELEntries()); got != before+1 || added["record_id"] == nil {
		t.Fatalf("SEL has %d entries after adding to %d: %v", got, before, added)
	}
	call(t, srv, "POST", "/api/v1/bmcs/0/sel", `{"sensor": "CPU1 Temp", "age": "soon"}`, 400, nil)
	call(t, srv, "DELETE", "/api/v1/bmcs/0/sel", "", 200, nil)
	if got := len(f.BMC(0).Model().SELEntries()); got != 0 {
		t.Fatalf("SEL has %d entries after clear", got)
	}

	// Power, power reading, chassis faults, SDR bump.
	call(t, srv, "PUT", "/api/v1/bmcs/2/power", `{"on": false}`, 200, nil)
	if f.BMC(2).Model().PowerOn() {
		t.Fatal("power still on")
	}
	call(t, srv, "PUT", "/api/v1/bmcs/2/power", `{}`, 400, nil)
	call(t, srv, "PUT", "/api/v1/bmcs/2/power_reading", `{"watts": 450}`, 200, nil)
	call(t, srv, "PUT", "/api/v1/bmcs/2/chassis_faults", `{"cooling_fault": true}`, 200, nil)
	call(t, srv, "POST", "/api/v1/bmcs/2/sdr/bump", "", 200, nil)

	// Faults per BMC and fleet-wide, with model quirks.
	var fj faultsJSON
	call(t, srv, "PUT", "/api/v1/bmcs/1/faults", `{"spec": "loss=0.25,latency=20ms,sdr_max_read=16"}`, 200, &fj)
	if fj.Loss != 0.25 || fj.Latency != "20ms" || fj.SDRMaxRead != 16 {
		t.Fatalf("faults %+v", fj)
	}
	if got := f.BMC(1).Faults(); got.Loss != 0.25 || got.Latency != 20*time.Millisecond {
		t.Fatalf("BMC faults %+v", got)
	}
	if q := f.BMC(1).Model().Quirks(); q.SDRMaxRead != 16 {
		t.Fatalf("model quirks %+v", q)
	}
	call(t, srv, "GET", "/api/v1/bmcs/1/faults", "", 200, &fj)
	if fj.Spec != "latency=20ms,loss=0.25,sdr_max_read=16" {
		t.Fatalf("faults spec %q", fj.Spec)
	}
	call(t, srv, "PUT", "/api/v1/bmcs/1/faults", `{"spec": "loss=7"}`, 400, nil)
	call(t, srv, "PUT", "/api/v1/bmcs/1/faults", `{"loss": 0.5}`, 400, nil)
	call(t, srv, "PUT", "/api/v1/faults", `{"spec": "silent"}`, 200, nil)
	for i := range f.Len() {
		if !f.BMC(i).Faults().Silent || f.BMC(i).Model().Quirks().SDRMaxRead != 0 {
			t.Fatalf("BMC %d after fleet-wide faults: %+v", i, f.BMC(i).FaultSpec())
		}
	}
	call(t, srv, "PUT", "/api/v1/faults", `{"spec": ""}`, 200, nil)

	// Reboot drops sessions; counters show up per BMC and fleet-wide.
	c := newV2Console(t, f.BMC(0), 17, peerUser, peerPassword, wire.PrivilegeAdmin)
	c.login(wire.PrivilegeAdmin) // through respond: counted like network traffic
	var detail bmcDetail
	call(t, srv, "GET", "/api/v1/bmcs/0", "", 200, &detail)
	if len(detail.Sessions) != 1 || detail.Sessions[0].State != "active" || detail.Counters.SessionsOpened != 1 {
		t.Fatalf("detail %+v", detail)
	}
	call(t, srv, "POST", "/api/v1/bmcs/0/reboot?unreachable=1ms", "", 200, nil)
	var counters CounterSnapshot
	call(t, srv, "GET", "/api/v1/bmcs/0/counters", "", 200, &counters)
	if counters.SessionsDropped != 1 || counters.SessionsActive != 0 || counters.Command("rakp1") != 1 {
		t.Fatalf("counters %+v", counters)
	}
	call(t, srv, "GET", "/api/v1/counters", "", 200, &counters)
	if counters.SessionsOpened != 1 {
		t.Fatalf("fleet counters %+v", counters)
	}
	call(t, srv, "POST", "/api/v1/reboot?unreachable=forever", "", 400, nil)
	call(t, srv, "POST", "/api/v1/reboot", "", 200, nil)
	call(t, srv, "GET", "/api/v1/bmcs/3", "", 404, nil)
	call(t, srv, "GET", "/api/v1/bmcs/x/counters", "", 404, nil)
}

func TestControlAPIWithoutModel(t *testing.T) {
	f := fakeFleet(t, "127.0.0.1", 1, Faults{})
	srv := httptest.NewServer(f.ControlHandler())
	defer srv.Close()
	call(t, srv, "GET", "/api/v1/bmcs/0/sensors", "", 501, nil)
	call(t, srv, "GET", "/api/v1/bmcs/0/counters", "", 200, nil)
}
