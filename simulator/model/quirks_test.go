package model

import (
	"context"
	"strings"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// countingRequester counts completion codes seen by the walk.
type countingRequester struct {
	requester
	codes map[wire.CompletionCode]int
}

func (r *countingRequester) Do(ctx context.Context, req command.Request, resp command.Response) error {
	err := r.requester.Do(ctx, req, resp)
	r.codes[ccOf(err)]++
	return err
}

func walk(t *testing.T, b *BMC) (*sdr.Repository, map[wire.CompletionCode]int) {
	t.Helper()
	r := &countingRequester{requester: admin(b), codes: map[wire.CompletionCode]int{}}
	repo, err := sdr.ReadRepository(context.Background(), r, sdr.ReadOptions{})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return repo, r.codes
}

func sensorNames(repo *sdr.Repository) []string {
	var out []string
	for _, s := range repo.Sensors() {
		out = append(out, s.Name)
	}
	return out
}

// Each SDR quirk changes what the BMC answers in the way its comment
// says, and the exporter's walk still finds every sensor.
func TestSDRQuirks(t *testing.T) {
	plainBMC, _ := newTestBMC(t, "dual-socket-1u", 0)
	plain, _ := walk(t, plainBMC)
	all := sensorNames(plain)
	for _, tc := range []struct {
		name  string
		q     Quirks
		check func(t *testing.T, repo *sdr.Repository, codes map[wire.CompletionCode]int)
	}{
		{"cancel reservation mid-walk", Quirks{SDRMaxRead: 24, SDRCancelReservation: 9},
			func(t *testing.T, repo *sdr.Repository, codes map[wire.CompletionCode]int) {
				if codes[wire.CCReservationCanceled] == 0 {
					t.Errorf("no 0xC5 during the walk: %v", codes)
				}
			}},
		{"short partial reads", Quirks{SDRShortRead: 7},
			func(t *testing.T, repo *sdr.Repository, codes map[wire.CompletionCode]int) {}},
		{"record count 0", Quirks{SDRCountShort: 0xFFFF},
			func(t *testing.T, repo *sdr.Repository, codes map[wire.CompletionCode]int) {
				if repo.Info.RecordCount != 0 {
					t.Errorf("count %d, want 0", repo.Info.RecordCount)
				}
			}},
		{"record count short", Quirks{SDRCountShort: 5},
			func(t *testing.T, repo *sdr.Repository, codes map[wire.CompletionCode]int) {}},
		{"same records twice", Quirks{SDRDuplicate: 6},
			func(t *testing.T, repo *sdr.Repository, codes map[wire.CompletionCode]int) {
				if repo.Duplicates != 6 {
					t.Errorf("%d duplicates seen, want 6", repo.Duplicates)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newTestBMC(t, "dual-socket-1u", 0)
			b.SetQuirks(tc.q)
			repo, codes := walk(t, b)
			if got := sensorNames(repo); strings.Join(got, "|") != strings.Join(all, "|") {
				t.Errorf("sensors %v, want %v", got, all)
			}
			if repo.Truncated != "" {
				t.Errorf("truncated: %s", repo.Truncated)
			}
			tc.check(t, repo, codes)
		})
	}
}

// 0xC3 on the last record: the walk keeps every other record and says why
// it stopped.
func TestSDRLastRecordCCQuirk(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	plain, _ := walk(t, b)
	b.SetQuirks(Quirks{SDRLastRecordCC: uint8(wire.CCTimeout)})
	repo, _ := walk(t, b)
	if len(repo.Records) != len(plain.Records)-1 || !strings.Contains(repo.Truncated, "0xc3") {
		t.Fatalf("%d records of %d, truncated %q", len(repo.Records), len(plain.Records), repo.Truncated)
	}
}

// The record rewrites: one name for every discrete sensor, a wrong owner
// in the BMC's records, a discrete event/reading type on an analog sensor.
func TestSDRRewriteQuirks(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	b.SetQuirks(Quirks{SDRSameName: "Status", SDROwner: 0x2c, DiscreteReading: "CPU1 Temp"})
	repo, _ := walk(t, b)
	statuses, cpu := 0, false
	for _, s := range repo.Sensors() {
		if !s.EventType.IsThreshold() && s.Name == "Status" {
			statuses++
		}
		if s.Owner.Address<<1 == 0x20 && !s.Owner.SoftwareID {
			t.Errorf("%s still owned by the BMC", s.Name)
		}
		if s.Name == "CPU1 Temp" {
			cpu = true
			if s.EventType != sdr.EventTypeSeverity {
				t.Errorf("CPU1 Temp event/reading type %v, want severity", s.EventType)
			}
		}
	}
	if statuses < 2 || !cpu {
		t.Errorf("%d sensors named Status, CPU1 Temp found %v", statuses, cpu)
	}
	// The BMC still answers for its sensors at its own address.
	var r command.GetSensorReadingResponse
	do(t, b, wire.Target{}, &command.GetSensorReadingRequest{Number: repo.Sensors()[0].Number}, &r)
}

func TestReadingQuirks(t *testing.T) {
	b, _ := newTestBMC(t, "dual-socket-1u", 0)
	snap, err := b.Sensor("CPU1 Temp")
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range []wire.CompletionCode{0xCB, 0xCD, 0xC9, 0xCE, 0xD5, 0xD3, 0xFF} {
		b.SetQuirks(Quirks{ReadingCC: uint8(cc), ReadingCCSensor: "CPU1 Temp"})
		if got := code(b, wire.Target{}, wire.NetFnSensorEvent, command.CmdGetSensorReading, []byte{snap.Number}, wire.PrivilegeUser); got != cc {
			t.Errorf("reading_cc %s: got %s", cc, got)
		}
	}
	b.SetQuirks(Quirks{FalseScanningDisabled: true})
	var r command.GetSensorReadingResponse
	do(t, b, wire.Target{}, &command.GetSensorReadingRequest{Number: snap.Number}, &r)
	if !r.ScanningDisabled || r.ReadingUnavailable || r.Reading == 0 {
		t.Errorf("false scanning disabled: %+v", r)
	}
}
