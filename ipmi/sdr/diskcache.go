package sdr

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// An on-disk SDR cache makes a restart of the exporter warm: at 10,000
// BMCs a restart would otherwise mean 10,000 SDR walks at once.
//
// One file per BMC holds the repository as the BMC served it (the raw
// records) with what it was read under: an identity the caller gives (the
// BMC's address and Get Device ID, so another BMC behind the same address
// or new firmware never uses it) and the Get SDR Repository Info of the
// walk. A loaded repository is only ever handed to ReadRepository as
// ReadOptions.Cached, which uses it only when the BMC's record count and
// addition and erase timestamps still match; otherwise the walk runs as
// without a cache. A SHA-256 over the file's content catches a torn or
// altered file, the decoder checks every length against the bytes there
// are, and a file is never larger than MaxFileSize. Files are written
// whole to a temporary file and renamed (never half written), mode 0600
// in a directory made 0700.

// DefaultMaxCacheFile bounds one cache file: 4096 records of the largest
// size (MaxRecords) are about 1 MiB; real repositories take 5-30 KiB.
const DefaultMaxCacheFile = 1 << 20

// cacheMagic starts every cache file; the last byte is the format version.
var cacheMagic = []byte("IFXSDR\x00\x01")

// ErrCacheMismatch is returned by DiskCache.Load when the file is for
// another identity (another BMC, other firmware).
var ErrCacheMismatch = errors.New("sdr cache: file is for another BMC identity")

// ErrCacheCorrupt is returned when a cache file does not decode.
var ErrCacheCorrupt = errors.New("sdr cache: corrupt file")

// DiskCache keeps SDR repositories in files under Dir.
type DiskCache struct {
	Dir string
	// MaxFileSize bounds a file read or written (0 → DefaultMaxCacheFile).
	MaxFileSize int
}

func (c *DiskCache) maxSize() int {
	if c.MaxFileSize > 0 {
		return c.MaxFileSize
	}
	return DefaultMaxCacheFile
}

// path names the file of key (a BMC's address): a hash, so that no key
// can name a path outside Dir.
func (c *DiskCache) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16])+".sdr")
}

// Load reads the repository stored for key. It fails with an error
// wrapping fs.ErrNotExist when there is none, ErrCacheMismatch when the
// stored identity differs from identity, and ErrCacheCorrupt when the
// file does not decode.
func (c *DiskCache) Load(key string, identity []byte) (*Repository, error) {
	f, err := os.Open(c.path(key))
	if err != nil {
		return nil, fmt.Errorf("sdr cache: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(c.maxSize())+1))
	if err != nil {
		return nil, fmt.Errorf("sdr cache: reading %s: %w", f.Name(), err)
	}
	if len(b) > c.maxSize() {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCacheCorrupt, f.Name(), c.maxSize())
	}
	id, repo, err := DecodeCache(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if !bytes.Equal(id, identity) {
		return nil, fmt.Errorf("%w (%s)", ErrCacheMismatch, f.Name())
	}
	return repo, nil
}

// Store writes repo as key's file, replacing any earlier one atomically.
func (c *DiskCache) Store(key string, identity []byte, repo *Repository) error {
	b, err := EncodeCache(identity, repo)
	if err != nil {
		return err
	}
	if len(b) > c.maxSize() {
		return fmt.Errorf("sdr cache: %d bytes for %d records, more than the %d allowed", len(b), len(repo.Records), c.maxSize())
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("sdr cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.Dir, ".sdr-*") // mode 0600
	if err != nil {
		return fmt.Errorf("sdr cache: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("sdr cache: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sdr cache: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sdr cache: closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return fmt.Errorf("sdr cache: %w", err)
	}
	done = true
	return nil
}

// Remove deletes key's file, if any.
func (c *DiskCache) Remove(key string) error {
	if err := os.Remove(c.path(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sdr cache: %w", err)
	}
	return nil
}

// EncodeCache is the file form of repo read under identity:
//
//	magic[8] | u16 len, identity | flags (bit 0: device SDRs) |
//	u8 len, Get SDR Repository Info | u16 duplicates |
//	u16 len, truncated reason | u16 count, count × (u16 len, record) |
//	SHA-256 of everything before
//
// Integers are little-endian, like the records.
func EncodeCache(identity []byte, repo *Repository) ([]byte, error) {
	if len(identity) > 0xFFFF || len(repo.Truncated) > 0xFFFF || len(repo.Records) > 0xFFFF {
		return nil, fmt.Errorf("sdr cache: identity, reason or record count too long")
	}
	b := append([]byte(nil), cacheMagic...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(identity)))
	b = append(b, identity...)
	var flags byte
	if repo.Device {
		flags |= 1
	}
	b = append(b, flags)
	info := repo.Info.AppendTo(nil)
	b = append(b, byte(len(info)))
	b = append(b, info...)
	b = binary.LittleEndian.AppendUint16(b, uint16(min(repo.Duplicates, 0xFFFF)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(repo.Truncated)))
	b = append(b, repo.Truncated...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(repo.Records)))
	for _, r := range repo.Records {
		raw := r.AppendTo(nil)
		if len(raw) > 0xFFFF {
			return nil, fmt.Errorf("sdr cache: record 0x%04x of %d bytes", r.ID(), len(raw))
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(raw)))
		b = append(b, raw...)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// cacheReader takes fields off a cache file, remembering the first
// shortfall.
type cacheReader struct {
	b   []byte
	err error
}

func (r *cacheReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("%w: %d bytes needed, %d left: %w", ErrCacheCorrupt, n, len(r.b), wire.ErrShort)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *cacheReader) u16() int {
	if b := r.take(2); b != nil {
		return int(binary.LittleEndian.Uint16(b))
	}
	return 0
}

func (r *cacheReader) u8() int {
	if b := r.take(1); b != nil {
		return int(b[0])
	}
	return 0
}

// DecodeCache parses a cache file: the identity it was stored under and
// the repository. It never panics and keeps no reference to b.
func DecodeCache(b []byte) (identity []byte, repo *Repository, err error) {
	if len(b) < len(cacheMagic)+sha256.Size || !bytes.Equal(b[:len(cacheMagic)], cacheMagic) {
		return nil, nil, fmt.Errorf("%w: not an SDR cache file of this version", ErrCacheCorrupt)
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", ErrCacheCorrupt)
	}
	r := &cacheReader{b: body[len(cacheMagic):]}
	identity = bytes.Clone(r.take(r.u16()))
	flags := r.u8()
	infoRaw := r.take(r.u8())
	duplicates := r.u16()
	truncated := string(r.take(r.u16()))
	count := r.u16()
	if r.err != nil {
		return nil, nil, r.err
	}
	repo = &Repository{Device: flags&1 != 0, Duplicates: duplicates, Truncated: truncated}
	if err := repo.Info.Unmarshal(infoRaw); err != nil {
		return nil, nil, fmt.Errorf("%w: repository info: %w", ErrCacheCorrupt, err)
	}
	// Each record takes at least its length and a header: a count the
	// bytes cannot hold is refused before anything is allocated for it.
	if count > len(r.b)/(2+HeaderLen) {
		return nil, nil, fmt.Errorf("%w: %d records in %d bytes", ErrCacheCorrupt, count, len(r.b))
	}
	if count > 0 {
		repo.Records = make([]Record, 0, count)
	}
	for range count {
		raw := r.take(r.u16())
		if r.err != nil {
			return nil, nil, r.err
		}
		if len(raw) < HeaderLen || len(raw) != HeaderLen+int(raw[4]) {
			return nil, nil, fmt.Errorf("%w: a record of %d bytes", ErrCacheCorrupt, len(raw))
		}
		// As the walk does: a record that does not decode is kept as
		// an UnknownRecord and listed in Errors.
		rec, perr := ParseRecord(raw)
		if perr != nil {
			rec = parseUnknown(raw)
			repo.Errors = append(repo.Errors, RecordError{RecordID: le16(raw), Err: perr})
		}
		repo.Records = append(repo.Records, rec)
	}
	if len(r.b) != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes after the last record", ErrCacheCorrupt, len(r.b))
	}
	return identity, repo, nil
}

// Identity builds the identity a repository is cached under: the key and
// the BMC's Get Device ID, whose firmware revision changes with an update.
func Identity(key string, dev *command.GetDeviceIDResponse) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(min(len(key), 0xFFFF)))
	b = append(b, key[:min(len(key), 0xFFFF)]...)
	if dev != nil {
		d := *dev
		// "Update in progress" comes and goes; it says nothing about
		// which repository the BMC holds.
		d.UpdateInProgress = false
		b = d.AppendTo(b)
	}
	return b
}
