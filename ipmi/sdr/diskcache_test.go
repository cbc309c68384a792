package sdr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
)

func cacheTestRepository(t testing.TB) *Repository {
	t.Helper()
	raws := append(testRecords(), sensorRecords(20, 21, 22)...)
	// A record that does not decode travels as an UnknownRecord.
	bad := append([]byte(nil), fullCPUTempBytes...)
	bad[0], bad[1] = 0x30, 0x00
	bad = bad[:HeaderLen+10]
	bad[4] = 10
	raws = append(raws, bad)
	f := newFakeRepository(raws...)
	repo, err := ReadRepository(context.Background(), f, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Errors) != 1 {
		t.Fatalf("want one undecodable record, have errors %v", repo.Errors)
	}
	return repo
}

var testIdentity = Identity("10.0.0.7:623", &command.GetDeviceIDResponse{
	DeviceID: 0x20, FirmwareMajor: 2, FirmwareMinor: 0x10, IPMIVersion: 0x02, ManufacturerID: 343, ProductID: 0x1234,
})

func TestDiskCacheRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := &DiskCache{Dir: dir}
	repo := cacheTestRepository(t)
	if _, err := c.Load("10.0.0.7:623", testIdentity); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load before Store: %v", err)
	}
	if err := c.Store("10.0.0.7:623", testIdentity, repo); err != nil {
		t.Fatal(err)
	}
	got, err := c.Load("10.0.0.7:623", testIdentity)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Records, repo.Records) || got.Info != repo.Info || got.Device != repo.Device ||
		len(got.Errors) != 1 || got.Errors[0].RecordID != repo.Errors[0].RecordID {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, repo)
	}
	// The directory is the owner's alone, and so are the files.
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, %v", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the cache directory, want 1 (no temporary file left)", len(entries))
	}
	fi, _ := entries[0].Info()
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", fi.Mode())
	}
	// Another BMC behind the address, or new firmware: not used.
	other := Identity("10.0.0.7:623", &command.GetDeviceIDResponse{DeviceID: 0x20, FirmwareMajor: 2, FirmwareMinor: 0x11})
	if _, err := c.Load("10.0.0.7:623", other); !errors.Is(err, ErrCacheMismatch) {
		t.Errorf("Load with another identity: %v", err)
	}
	if _, err := c.Load("10.0.0.8:623", testIdentity); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of another key: %v", err)
	}
	// A stored repository is only used when the BMC's info still
	// matches: ReadRepository gets it as Cached.
	f := newFakeRepository()
	f.info = repo.Info
	f.countOverride = &repo.Info.RecordCount
	warm, err := ReadRepository(context.Background(), f, ReadOptions{Cached: got})
	if err != nil || warm != got || f.getCalls != 0 {
		t.Fatalf("warm read: %v, same %v, %d Get SDR", err, warm == got, f.getCalls)
	}
	f.info.LastAddition++
	f.records = nil
	f.countOverride = nil
	changed, err := ReadRepository(context.Background(), f, ReadOptions{Cached: got})
	if err != nil || changed == got || len(changed.Records) != 0 {
		t.Fatalf("changed repository: %v, cached one used %v", err, changed == got)
	}
}

func TestDiskCacheCorruptFiles(t *testing.T) {
	c := &DiskCache{Dir: t.TempDir(), MaxFileSize: 4096}
	repo := cacheTestRepository(t)
	good, err := EncodeCache(testIdentity, repo)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other magic", append([]byte("IFXSDR\x00\x02"), good[8:]...)},
		{"one bit flipped", flipped},
		{"cut short", good[:len(good)-40]},
		{"longer than allowed", append(bytes.Clone(good), make([]byte, 4096)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(c.path("bmc"), tc.b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Load("bmc", testIdentity); !errors.Is(err, ErrCacheCorrupt) {
				t.Fatalf("Load: %v, want ErrCacheCorrupt", err)
			}
		})
	}
	// A repository too large for the bound is not written.
	small := &DiskCache{Dir: c.Dir, MaxFileSize: 100}
	if err := small.Store("big", testIdentity, repo); err == nil {
		t.Fatal("Store wrote a file over MaxFileSize")
	}
}

// Byte vectors of the format: an empty repository, and one record.
func TestEncodeCacheVectors(t *testing.T) {
	info := command.GetSDRRepositoryInfoResponse{Version: 0x51, RecordCount: 1, FreeSpace: 0xFFFF, LastAddition: 0x01020304, LastErase: 0x05060708, Support: 0x02}
	rec, _ := ParseRecord(eventOnlyBytes)
	for _, tc := range []struct {
		name string
		repo *Repository
		want string // without the checksum
	}{
		{"empty", &Repository{Info: info},
			"494658534452000102006964" + "00" + "0e" + hex.EncodeToString(info.AppendTo(nil)) + "0000" + "0000" + "0000"},
		{"one record, device SDRs, truncated", &Repository{Device: true, Info: info, Records: []Record{rec}, Truncated: "x", Duplicates: 2},
			"494658534452000102006964" + "01" + "0e" + hex.EncodeToString(info.AppendTo(nil)) + "0200" + "010078" + "0100" +
				hex.EncodeToString([]byte{byte(len(eventOnlyBytes)), 0}) + hex.EncodeToString(eventOnlyBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeCache([]byte("id"), tc.repo)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(b[:len(b)-32]); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			id, back, err := DecodeCache(b)
			if err != nil || string(id) != "id" || !reflect.DeepEqual(back, tc.repo) {
				t.Fatalf("decode: %v %q %+v", err, id, back)
			}
		})
	}
}

// FuzzDecodeCache: no input panics, and what decodes encodes back to a
// file that decodes to the same.
func FuzzDecodeCache(f *testing.F) {
	good, err := EncodeCache(testIdentity, cacheTestRepository(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("IFXSDR\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Most mutations break the checksum; fix it up so the fuzzer
		// reaches the decoder proper as well.
		for _, in := range [][]byte{b, withChecksum(b)} {
			id, repo, err := DecodeCache(in)
			if err != nil {
				continue
			}
			again, err := EncodeCache(id, repo)
			if err != nil {
				t.Fatalf("decoded file does not encode: %v", err)
			}
			id2, repo2, err := DecodeCache(again)
			if err != nil || !bytes.Equal(id, id2) || !reflect.DeepEqual(repo.Records, repo2.Records) || repo.Info != repo2.Info {
				t.Fatalf("re-encoded file differs: %v", err)
			}
		}
	})
}

func withChecksum(b []byte) []byte {
	if len(b) < 32 {
		return b
	}
	body := bytes.Clone(b[:len(b)-32])
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}
