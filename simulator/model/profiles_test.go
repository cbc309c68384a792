package model

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestProfileNames(t *testing.T) {
	got := strings.Join(ProfileNames(), ",")
	if got != "dual-socket-1u,edge-node,gpu-box" {
		t.Fatalf("ProfileNames() = %s", got)
	}
}

// sensorCounts are the sizes the brief asks of the built-in profiles.
var sensorCounts = map[string][2]int{
	"dual-socket-1u": {55, 75},
	"gpu-box":        {140, 170},
	"edge-node":      {12, 18},
}

// expectedStatus compares a decoded reading with decoded thresholds the
// way IPMI defines the comparison status: at or below a lower threshold,
// at or above an upper one.
func expectedStatus(v float64, info *sdr.SensorInfo) command.ThresholdMask {
	var m command.ThresholdMask
	for th := sdr.Threshold(0); th < 6; th++ {
		tv, ok := info.Thresholds.Value(th, &info.Conversion)
		if !ok {
			continue
		}
		if (th.IsUpper() && v >= tv) || (!th.IsUpper() && v <= tv) {
			m |= th.Mask()
		}
	}
	return m
}

// readSensor sends Get Sensor Reading for info to where its record says.
func readSensor(t *testing.T, b *BMC, info *sdr.SensorInfo) (command.GetSensorReadingResponse, wire.CompletionCode) {
	t.Helper()
	var resp command.GetSensorReadingResponse
	err := requester{b: b, target: info.Target(), priv: wire.PrivilegeUser}.Do(context.Background(),
		&command.GetSensorReadingRequest{Number: info.Number}, &resp)
	if cc := ccOf(err); cc != wire.CCOK {
		return resp, cc
	}
	if err != nil {
		t.Fatalf("%s: %v", info.Name, err)
	}
	return resp, wire.CCOK
}

// TestProfilesRoundTrip walks every shipped profile's repository with the
// sdr package, as the exporter will, and checks every sensor: its reading
// decodes to within one raw step of the model's value, the threshold bits
// match the decoded thresholds, discrete states are the profile's.
func TestProfilesRoundTrip(t *testing.T) {
	for _, name := range ProfileNames() {
		t.Run(name, func(t *testing.T) {
			b, clock := newTestBMC(t, name, 3)
			repo, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(repo.Errors) > 0 || repo.Truncated != "" {
				t.Fatalf("walk: errors %v, truncated %q", repo.Errors, repo.Truncated)
			}
			if int(repo.Info.RecordCount) != len(repo.Records) {
				t.Fatalf("info says %d records, walk found %d", repo.Info.RecordCount, len(repo.Records))
			}
			infos := repo.Sensors()
			eventOnly := 0
			for _, r := range repo.Records {
				if eo, ok := r.(*sdr.EventOnlySensor); ok {
					eventOnly += eo.Sharing.N()
				}
			}
			c := b.p
			if len(infos)+eventOnly != len(c.sensors) {
				t.Fatalf("repository describes %d readable + %d event-only sensors, model has %d",
					len(infos), eventOnly, len(c.sensors))
			}
			if want := sensorCounts[name]; len(c.sensors) < want[0] || len(c.sensors) > want[1] {
				t.Errorf("%d sensors, want %d-%d", len(c.sensors), want[0], want[1])
			}
			// Read at several times so drift and noise are exercised.
			for step := 0; step < 4; step++ {
				clock.t = testEpoch.Add(time.Duration(step) * 97 * time.Second)
				for i := range infos {
					checkSensor(t, b, &infos[i], clock.t)
				}
			}
		})
	}
}

func checkSensor(t *testing.T, b *BMC, info *sdr.SensorInfo, at time.Time) {
	t.Helper()
	idx, ok := b.p.byName[info.Name]
	if !ok {
		t.Fatalf("repository sensor %q is not in the model", info.Name)
	}
	d := &b.p.sensors[idx]
	if d.addr.number != info.Number || d.addr.addr != info.Owner.Address<<1 || d.addr.channel != info.Owner.Channel {
		t.Fatalf("%s: record says number 0x%02x owner %s, model %+v", info.Name, info.Number, info.Owner, d.addr)
	}
	resp, cc := readSensor(t, b, info)
	if d.absent {
		if cc != wire.CCRequestedDataNotPresent {
			t.Errorf("%s: absent sensor answered 0x%02x, want 0xCB", info.Name, uint8(cc))
		}
		return
	}
	if cc != wire.CCOK {
		t.Fatalf("%s: completion code %s", info.Name, cc)
	}
	s := sdr.Sensor{SensorInfo: info, Reading: resp}
	if d.scanningDisabled {
		if s.Available() || !resp.ScanningDisabled {
			t.Errorf("%s: scanning-disabled sensor reads as available (%+v)", info.Name, resp)
		}
		return
	}
	if !s.Available() {
		t.Fatalf("%s: reading unavailable: %+v", info.Name, resp)
	}
	if info.EventType.IsThreshold() {
		got, ok := s.Value()
		if !ok {
			t.Fatalf("%s: reading does not convert", info.Name)
		}
		want := d.modelValue(b.seed, at)
		step := info.Conversion.DeltaValue(1)
		if math.Abs(got-want) > step*(1+1e-9) {
			t.Errorf("%s at %s: decoded %g, model %g, step %g", info.Name, at.Format(time.TimeOnly), got, want, step)
		}
		lo := d.base - d.drift - d.noise
		hi := d.base + d.drift + d.noise
		if got < lo-step || got > hi+step {
			t.Errorf("%s: %g outside base±drift±noise [%g, %g]", info.Name, got, lo, hi)
		}
		status, _ := s.ThresholdStatus()
		if exp := expectedStatus(got, info); status != exp {
			t.Errorf("%s = %g: status %06b, want %06b", info.Name, got, status, exp)
		}
		if resp.States&0xC0 != 0xC0 {
			t.Errorf("%s: reserved status bits 7:6 not set: %08b", info.Name, resp.States)
		}
		return
	}
	states, ok := s.States()
	if !ok || states != d.initial {
		t.Errorf("%s: states %#04x (ok %v), want %#04x", info.Name, states, ok, d.initial)
	}
	if states&^info.ReadingMask != 0 {
		t.Errorf("%s: states %#04x outside the reading mask %#04x", info.Name, states, info.ReadingMask)
	}
}

// TestThresholdBitsFollowValues pushes every threshold sensor of a
// profile across each of its thresholds and checks the status bits and the
// severity a client derives from them.
func TestThresholdBitsFollowValues(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	repo, err := sdr.ReadRepository(context.Background(), admin(b), sdr.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, info := range repo.Sensors() {
		if !info.EventType.IsThreshold() || info.Thresholds.Readable == 0 {
			continue
		}
		d := &b.p.sensors[b.p.byName[info.Name]]
		if d.absent || d.scanningDisabled {
			continue
		}
		for th := sdr.Threshold(0); th < 6; th++ {
			tv, ok := info.Thresholds.Value(th, &info.Conversion)
			if !ok {
				continue
			}
			step := info.Conversion.DeltaValue(1)
			for _, v := range []float64{tv - step, tv, tv + step} {
				if err := b.SetSensorValue(info.Name, v); err != nil {
					t.Fatal(err)
				}
				resp, cc := readSensor(t, b, &info)
				if cc != wire.CCOK {
					t.Fatalf("%s: %s", info.Name, cc)
				}
				s := sdr.Sensor{SensorInfo: &info, Reading: resp}
				got, _ := s.Value()
				if math.Abs(got-v) > step/2*(1+1e-9) {
					t.Fatalf("%s set to %g reads %g", info.Name, v, got)
				}
				status, _ := s.ThresholdStatus()
				want := expectedStatus(got, &info)
				if status != want {
					t.Errorf("%s = %g (%s %g): status %06b, want %06b", info.Name, got, th, tv, status, want)
				}
				wantBit := (th.IsUpper() && got >= tv) || (!th.IsUpper() && got <= tv)
				if status.Has(th.Mask()) != wantBit {
					t.Errorf("%s = %g: %s bit %v, want %v", info.Name, got, th, status.Has(th.Mask()), wantBit)
				}
				if sev := s.Severity(); sev != sdr.ThresholdStatusSeverity(want) {
					t.Errorf("%s = %g: severity %s", info.Name, got, sev)
				}
				checked++
			}
		}
		if err := b.ClearSensorValue(info.Name); err != nil {
			t.Fatal(err)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d threshold checks ran", checked)
	}
	// The snapshot agrees: a value above UC is critical.
	if err := b.SetSensorValue("CPU1 Temp", 91); err != nil {
		t.Fatal(err)
	}
	for _, s := range b.Sensors() {
		if s.Name == "CPU1 Temp" {
			if s.Severity != sdr.Critical || s.Value != 91 || *s.Thresholds.UC != 90 || s.Status != command.UpperNonCritical|command.UpperCritical {
				t.Errorf("snapshot %+v", s)
			}
		}
	}
}
