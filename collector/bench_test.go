package collector

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// BenchmarkWarmScrape is one warm scrape of the dual-socket-1u profile
// (66 sensors) with the default collectors through the in-process
// transport. allocs/op includes the simulated BMC's own allocations
// (BenchmarkSimulatedReadings measures those for the sensor readings).
func BenchmarkWarmScrape(b *testing.B) {
	f := newFixture(b, loadProfile(b, "dual-socket-1u"))
	ctx := context.Background()
	Scrape(ctx, f.target, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		Scrape(ctx, f.target, nil, nil)
	}
}

// BenchmarkWarmSensors is the ipmi collector alone, warm: Get SDR
// Repository Info and 66 Get Sensor Readings.
func BenchmarkWarmSensors(b *testing.B) {
	f := newFixture(b, loadProfile(b, "dual-socket-1u"), config.CollectorIPMI)
	ctx := context.Background()
	ch := make(chan prometheus.Metric, 1024)
	c := sensorCollector{}
	collect := func() {
		if err := c.Collect(ctx, f.target, ch); err != nil {
			b.Fatal(err)
		}
		for len(ch) > 0 {
			<-ch
		}
	}
	collect()
	b.ReportAllocs()
	for b.Loop() {
		collect()
	}
}

// BenchmarkSimulatedReadings is the simulated side of BenchmarkWarmSensors:
// the same requests through the client, without the collector.
func BenchmarkSimulatedReadings(b *testing.B) {
	f := newFixture(b, loadProfile(b, "dual-socket-1u"), config.CollectorIPMI)
	ctx := context.Background()
	Scrape(ctx, f.target, nil, nil)
	sensors := f.target.State.sensors.sensors
	var (
		info command.GetSDRRepositoryInfoResponse
		req  command.GetSensorReadingRequest
		resp command.GetSensorReadingResponse
	)
	b.ReportAllocs()
	for b.Loop() {
		if err := f.target.Client.Do(ctx, command.GetSDRRepositoryInfoRequest{}, &info); err != nil {
			b.Fatal(err)
		}
		for i := range sensors {
			req.Number = sensors[i].info.Number
			err := f.target.Client.DoTarget(ctx, sensors[i].target, &req, &resp)
			if err != nil && !wire.IsCompletionCode(err, wire.CCRequestedDataNotPresent) {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkColdSDR is a first scrape's preparation: the repository walk
// (Get SDR Repository Info, Get SDR per record, the confirming info) and
// decoding it into the sensor table.
func BenchmarkColdSDR(b *testing.B) {
	f := newFixture(b, loadProfile(b, "dual-socket-1u"), config.CollectorIPMI)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.target.State = NewState()
		tbl, err := prepareSensors(ctx, f.target)
		if err != nil || len(tbl.sensors) != 67 {
			b.Fatalf("%v, %d sensors", err, len(tbl.sensors))
		}
	}
}
