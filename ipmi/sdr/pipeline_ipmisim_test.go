package sdr_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/internal/testbed"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Against a real BMC (ipmi_sim), the pipelined walk over a session with
// several requests in flight reads exactly the repository the sequential
// walk reads, whole records and in chunks.
func TestPipelinedWalkMatchesSequentialOnIPMISim(t *testing.T) {
	testbed.RequireTool(t, "ipmi_sim")
	sim := testbed.StartIPMISim(t, testbed.IPMISimOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	open := func(window int) *session.Session {
		s, err := session.OpenRMCPPlus(ctx, session.Config{
			Host: sim.Addr, Username: sim.User, Password: []byte(sim.Password),
			Privilege: wire.PrivilegeAdmin, CipherSuite: 3, Window: window,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	seqSession, parSession := open(1), open(8)
	for _, chunk := range []uint8{0, 16} {
		want, err := sdr.ReadRepository(ctx, ipmi.NewClient(seqSession), sdr.ReadOptions{ChunkSize: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Records) < 10 {
			t.Fatalf("ipmi_sim's repository has %d records", len(want.Records))
		}
		var rs []sdr.Requester
		for range 8 {
			rs = append(rs, ipmi.NewClient(parSession))
		}
		got, err := sdr.ReadRepository(ctx, nil, sdr.ReadOptions{ChunkSize: chunk, Parallel: rs})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunk %d: pipelined walk read\n%+v\nsequential\n%+v", chunk, got, want)
		}
	}
}
