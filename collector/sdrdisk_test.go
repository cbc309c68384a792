package collector

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// diskFixture is a fixture whose module keeps SDR repositories in dir.
func diskFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	f := newFixture(t, loadProfile(t, "dual-socket-1u"), config.CollectorIPMI)
	f.target.Addr = "192.0.2.7:623"
	f.target.Module.SDRCacheDir = dir
	return f
}

// restart gives f's target a new State, as a restarted exporter has.
func (f *fixture) restart() {
	st := NewState()
	st.now = f.clock.now
	f.target.State = st
}

// With sdr_cache_dir, a restarted exporter's first scrape reads no SDR
// records when the repository did not change, and reports what a walk
// reports.
func TestDiskCacheMakesRestartWarm(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sdr")
	f := diskFixture(t, dir)
	_, cold := f.scrape(t)
	want, _ := f.scrape(t)
	if cold.of(opGetSDR.NetFn, opGetSDR.Cmd) == 0 {
		t.Fatal("the cold scrape read no SDR records")
	}
	if files, _ := os.ReadDir(dir); len(files) != 1 {
		t.Fatalf("%d files in the cache directory after the walk, want 1", len(files))
	}

	f.restart()
	got, warm := f.scrape(t)
	if n := warm.of(opGetSDR.NetFn, opGetSDR.Cmd); n != 0 {
		t.Fatalf("restarted scrape sent %d Get SDR: %s", n, warm)
	}
	if f.target.State.SDRWalks() != 0 || f.target.State.SDRCacheHits() != 1 {
		t.Errorf("walks %d, cache hits %d", f.target.State.SDRWalks(), f.target.State.SDRCacheHits())
	}
	if g, w := exposition(t, got), exposition(t, want); g != w {
		t.Fatalf("scrape from the disk cache differs:\n--- got\n%s\n--- want\n%s", g, w)
	}
	// Later scrapes do not read Get Device ID or the file again.
	if _, rt := f.scrape(t); rt.of(opGetDeviceID.NetFn, opGetDeviceID.Cmd) != 0 || rt.of(opGetSDR.NetFn, opGetSDR.Cmd) != 0 {
		t.Errorf("warm scrape after the restart: %s", rt)
	}
}

// A repository that changed while the exporter was down is walked again,
// and the new one stored.
func TestDiskCacheInvalidatedByChange(t *testing.T) {
	dir := t.TempDir()
	f := diskFixture(t, dir)
	f.scrape(t)
	f.bmc.BumpSDR() // adds a record, new addition timestamp

	f.restart()
	_, rt := f.scrape(t)
	if rt.of(opGetSDR.NetFn, opGetSDR.Cmd) == 0 || f.target.State.SDRWalks() != 1 {
		t.Fatalf("changed repository not walked: %s, walks %d", rt, f.target.State.SDRWalks())
	}
	records := len(f.target.State.repo.Records)

	f.restart()
	_, rt = f.scrape(t)
	if n := rt.of(opGetSDR.NetFn, opGetSDR.Cmd); n != 0 || len(f.target.State.repo.Records) != records {
		t.Fatalf("the new repository was not stored: %d Get SDR, %d records (want %d)", n, len(f.target.State.repo.Records), records)
	}
}

// A corrupt or foreign file is not used: the repository is walked and the
// file replaced.
func TestDiskCacheCorruptFile(t *testing.T) {
	dir := t.TempDir()
	f := diskFixture(t, dir)
	f.scrape(t)
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	path := filepath.Join(dir, files[0].Name())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f.restart()
	res, rt := f.scrape(t)
	if rt.of(opGetSDR.NetFn, opGetSDR.Cmd) == 0 || res.up(t, config.CollectorIPMI) != 1 {
		t.Fatalf("corrupt cache: %s", rt)
	}
	f.restart()
	if _, rt := f.scrape(t); rt.of(opGetSDR.NetFn, opGetSDR.Cmd) != 0 {
		t.Fatalf("the corrupt file was not replaced: %s", rt)
	}
	// Another BMC answering at the same address (another device ID) does
	// not get this one's repository.
	g := newFixture(t, loadProfile(t, "gpu-box"), config.CollectorIPMI)
	g.target.Addr, g.target.Module.SDRCacheDir = f.target.Addr, dir
	if _, rt := g.scrape(t); rt.of(opGetSDR.NetFn, opGetSDR.Cmd) == 0 {
		t.Fatalf("another BMC at the address used the stored repository: %s", rt)
	}
}
