package simulator

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/simulator/model"
)

// maxControlBody bounds request bodies of the control API.
const maxControlBody = 64 << 10

// ControlHandler serves the fleet's HTTP control API (docs/simulator.md).
// Every response is JSON; errors are {"error": "..."} with a 4xx status.
func (f *Fleet) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/fleet", f.httpFleet)
	mux.HandleFunc("GET /api/v1/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Counters())
	})
	mux.HandleFunc("PUT /api/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		spec, ok := readFaultSpec(w, r)
		if !ok {
			return
		}
		if err := f.ApplyFaultSpec(spec); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, faultsView(spec))
	})
	mux.HandleFunc("POST /api/v1/reboot", func(w http.ResponseWriter, r *http.Request) {
		d, ok := unreachableParam(w, r)
		if !ok {
			return
		}
		f.Reboot(d)
		writeJSON(w, http.StatusOK, map[string]any{"rebooted": f.Len(), "unreachable": d.String()})
	})
	mux.HandleFunc("GET /api/v1/bmcs", func(w http.ResponseWriter, r *http.Request) {
		out := make([]bmcSummary, 0, f.Len())
		for _, b := range f.bmcs {
			out = append(out, summarize(b))
		}
		writeJSON(w, http.StatusOK, out)
	})
	f.handleBMC(mux, "GET /api/v1/bmcs/{index}", func(w http.ResponseWriter, r *http.Request, b *BMC) {
		writeJSON(w, http.StatusOK, bmcDetail{bmcSummary: summarize(b), Sessions: b.Sessions(), Counters: b.Counters()})
	})
	f.handleBMC(mux, "GET /api/v1/bmcs/{index}/counters", func(w http.ResponseWriter, r *http.Request, b *BMC) {
		writeJSON(w, http.StatusOK, b.Counters())
	})
	f.handleBMC(mux, "GET /api/v1/bmcs/{index}/faults", func(w http.ResponseWriter, r *http.Request, b *BMC) {
		writeJSON(w, http.StatusOK, faultsView(b.FaultSpec()))
	})
	f.handleBMC(mux, "PUT /api/v1/bmcs/{index}/faults", func(w http.ResponseWriter, r *http.Request, b *BMC) {
		spec, ok := readFaultSpec(w, r)
		if !ok {
			return
		}
		if err := b.ApplyFaultSpec(spec); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, faultsView(spec))
	})
	f.handleBMC(mux, "POST /api/v1/bmcs/{index}/reboot", func(w http.ResponseWriter, r *http.Request, b *BMC) {
		d, ok := unreachableParam(w, r)
		if !ok {
			return
		}
		b.Reboot(d)
		writeJSON(w, http.StatusOK, map[string]any{"rebooted": 1, "unreachable": d.String()})
	})
	f.handleModel(mux, "GET /api/v1/bmcs/{index}/sensors", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		writeJSON(w, http.StatusOK, m.Sensors())
	})
	f.handleModel(mux, "PUT /api/v1/bmcs/{index}/sensors/{name}", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		var req struct {
			Value  *float64 `json:"value"`
			States *uint16  `json:"states"`
			Clear  bool     `json:"clear"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		name := r.PathValue("name")
		var err error
		switch {
		case req.Clear:
			err = m.ClearSensorValue(name)
		case req.Value != nil && req.States == nil:
			err = m.SetSensorValue(name, *req.Value)
		case req.States != nil && req.Value == nil:
			err = m.SetSensorStates(name, *req.States)
		default:
			err = errors.New(`give exactly one of "value", "states" or "clear": true`)
		}
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, model.ErrUnknownSensor) {
				status = http.StatusNotFound
			}
			writeError(w, status, err)
			return
		}
		for _, s := range m.Sensors() {
			if s.Name == name {
				writeJSON(w, http.StatusOK, s)
				return
			}
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("sensor %q vanished", name))
	})
	f.handleModel(mux, "POST /api/v1/bmcs/{index}/sel", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		var req selEntryRequest
		if !readJSON(w, r, &req) {
			return
		}
		spec, err := req.spec()
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		id, err := m.AddSELEntry(spec)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"record_id": id})
	})
	f.handleModel(mux, "DELETE /api/v1/bmcs/{index}/sel", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		m.ClearSEL()
		writeJSON(w, http.StatusOK, map[string]any{"cleared": true})
	})
	f.handleModel(mux, "PUT /api/v1/bmcs/{index}/power", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		var req struct {
			On *bool `json:"on"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.On == nil {
			writeError(w, http.StatusBadRequest, errors.New(`missing "on"`))
			return
		}
		m.SetPower(*req.On)
		writeJSON(w, http.StatusOK, map[string]any{"on": m.PowerOn()})
	})
	f.handleModel(mux, "PUT /api/v1/bmcs/{index}/power_reading", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		var req struct {
			Watts *float64 `json:"watts"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.Watts == nil || *req.Watts < 0 {
			writeError(w, http.StatusBadRequest, errors.New(`"watts" must be given and not negative`))
			return
		}
		m.SetPowerReading(*req.Watts)
		writeJSON(w, http.StatusOK, map[string]any{"watts": *req.Watts})
	})
	f.handleModel(mux, "PUT /api/v1/bmcs/{index}/chassis_faults", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		var req model.ChassisFaults
		if !readJSON(w, r, &req) {
			return
		}
		m.SetChassisFaults(req)
		writeJSON(w, http.StatusOK, req)
	})
	f.handleModel(mux, "POST /api/v1/bmcs/{index}/sdr/bump", func(w http.ResponseWriter, r *http.Request, m *model.BMC) {
		m.BumpSDR()
		writeJSON(w, http.StatusOK, map[string]any{"bumped": true})
	})
	return mux
}

// bmcSummary is one BMC in GET /api/v1/bmcs.
type bmcSummary struct {
	Index          int    `json:"index"`
	Addr           string `json:"addr"`
	Profile        string `json:"profile,omitempty"`
	SessionsActive int    `json:"sessions_active"`
	Faults         string `json:"faults"`
	PowerOn        *bool  `json:"power_on,omitempty"`
}

type bmcDetail struct {
	bmcSummary
	Sessions []SessionInfo   `json:"sessions"`
	Counters CounterSnapshot `json:"counters"`
}

func summarize(b *BMC) bmcSummary {
	s := bmcSummary{Index: b.index, Addr: b.addr.String(), SessionsActive: b.ActiveSessions(), Faults: b.FaultSpec().String()}
	if m := b.Model(); m != nil {
		on := m.PowerOn()
		s.Profile, s.PowerOn = m.ProfileName(), &on
	}
	return s
}

func (f *Fleet) httpFleet(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"count":         f.Len(),
		"first":         f.bmcs[0].addr.String(),
		"last":          f.bmcs[len(f.bmcs)-1].addr.String(),
		"max_sessions":  f.cfg.MaxSessions,
		"cipher_suites": f.cfg.CipherSuites,
		"counters":      f.Counters(),
	}
	if m := f.bmcs[0].Model(); m != nil {
		out["profile"] = m.ProfileName()
	}
	writeJSON(w, http.StatusOK, out)
}

// handleBMC registers a handler for a pattern with an {index} wildcard.
func (f *Fleet) handleBMC(mux *http.ServeMux, pattern string, h func(http.ResponseWriter, *http.Request, *BMC)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.PathValue("index"))
		if err != nil || i < 0 || i >= f.Len() {
			writeError(w, http.StatusNotFound, fmt.Errorf("no BMC %q (have 0-%d)", r.PathValue("index"), f.Len()-1))
			return
		}
		h(w, r, f.bmcs[i])
	})
}

// handleModel is handleBMC for endpoints that need the BMC's model.
func (f *Fleet) handleModel(mux *http.ServeMux, pattern string, h func(http.ResponseWriter, *http.Request, *model.BMC)) {
	f.handleBMC(mux, pattern, func(w http.ResponseWriter, r *http.Request, b *BMC) {
		m := b.Model()
		if m == nil {
			writeError(w, http.StatusNotImplemented, errors.New("this fleet runs without a model"))
			return
		}
		h(w, r, m)
	})
}

// faultsJSON is how faults are shown: the spec string plus its fields.
type faultsJSON struct {
	Spec                  string  `json:"spec"`
	Latency               string  `json:"latency"`
	Jitter                string  `json:"jitter"`
	Loss                  float64 `json:"loss"`
	Silent                bool    `json:"silent"`
	Garbage               float64 `json:"garbage"`
	Truncate              float64 `json:"truncate"`
	SessionsFull          bool    `json:"sessions_full"`
	AESPadFullBlock       bool    `json:"aes_pad_full_block"`
	RAKP2ZeroTag          bool    `json:"rakp2_zero_tag"`
	SDRMaxRead            int     `json:"sdr_max_read"`
	EmptyReadingForAbsent bool    `json:"empty_reading_for_absent"`
}

func faultsView(s FaultSpec) faultsJSON {
	f := s.Faults
	return faultsJSON{Spec: s.String(), Latency: f.Latency.String(), Jitter: f.Jitter.String(), Loss: f.Loss,
		Silent: f.Silent, Garbage: f.Garbage, Truncate: f.Truncate, SessionsFull: f.SessionsFull,
		AESPadFullBlock: f.AESPadFullBlock, RAKP2ZeroTag: f.RAKP2ZeroTag, SDRMaxRead: s.SDRMaxRead,
		EmptyReadingForAbsent: s.EmptyReadingForAbsent}
}

// readFaultSpec reads {"spec": "loss=0.3,latency=1s"}; the spec replaces
// all faults and quirks ("" clears them).
func readFaultSpec(w http.ResponseWriter, r *http.Request) (FaultSpec, bool) {
	var req struct {
		Spec *string `json:"spec"`
	}
	if !readJSON(w, r, &req) {
		return FaultSpec{}, false
	}
	if req.Spec == nil {
		writeError(w, http.StatusBadRequest, errors.New(`missing "spec" (for example {"spec": "loss=0.3,latency=500ms"}; "" clears)`))
		return FaultSpec{}, false
	}
	spec, err := ParseFaults(*req.Spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return FaultSpec{}, false
	}
	return spec, true
}

// unreachableParam reads the optional ?unreachable=DURATION.
func unreachableParam(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v := r.URL.Query().Get("unreachable")
	if v == "" {
		return 0, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("unreachable=%q: want a duration like 5s", v))
		return 0, false
	}
	return d, true
}

// selEntryRequest is the body of POST /api/v1/bmcs/{index}/sel.
type selEntryRequest struct {
	Sensor     string `json:"sensor"`
	Offset     uint8  `json:"offset"`
	Deassert   bool   `json:"deassert"`
	EventData2 *uint8 `json:"event_data2"`
	EventData3 *uint8 `json:"event_data3"`
	Time       string `json:"time"` // RFC 3339; empty = now minus age
	Age        string `json:"age"`  // duration
	RecordType uint8  `json:"record_type"`
	OEM        string `json:"oem"` // hex
}

func (q *selEntryRequest) spec() (model.SELEntrySpec, error) {
	s := model.SELEntrySpec{Sensor: q.Sensor, Offset: q.Offset, Deassert: q.Deassert,
		EventData2: q.EventData2, EventData3: q.EventData3, RecordType: q.RecordType}
	var err error
	if q.Time != "" {
		if s.Time, err = time.Parse(time.RFC3339, q.Time); err != nil {
			return s, fmt.Errorf("time: %w", err)
		}
	}
	if q.Age != "" {
		if s.Age, err = time.ParseDuration(q.Age); err != nil {
			return s, fmt.Errorf("age: %w", err)
		}
	}
	if q.OEM != "" {
		if s.OEM, err = hex.DecodeString(q.OEM); err != nil {
			return s, fmt.Errorf("oem: %w", err)
		}
	}
	return s, nil
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
