package collector

import (
	"context"
	"errors"
	"io/fs"

	"github.com/go-kit/log/level"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

// The module's on-disk SDR cache (sdr_cache_dir): a restart of the
// exporter starts warm. The first scrape of a BMC after a restart reads
// Get Device ID and the stored repository, and hands it to the walk as
// its cached repository: the walk uses it only if Get SDR Repository
// Info still shows the same count and timestamps, and walks as usual
// otherwise. A new repository read by a walk is stored (Get Device ID
// again: a firmware update changes both). The file format, its checks
// and its bounds are in ipmi/sdr/diskcache.go.

// diskCache returns t's on-disk SDR cache, or nil when the module has
// none or the Target does not say which BMC it is.
func diskCache(t *Target) *sdr.DiskCache {
	dir := moduleOf(t).SDRCacheDir
	if dir == "" || t.Addr == "" || t.Client == nil {
		return nil
	}
	return &sdr.DiskCache{Dir: dir}
}

// diskIdentity is what a stored repository is for: the BMC's address and
// its Get Device ID.
func diskIdentity(ctx context.Context, t *Target) ([]byte, error) {
	dev, err := t.Client.DeviceID(ctx)
	if err != nil {
		return nil, err
	}
	return sdr.Identity(t.Addr, &dev), nil
}

// loadDiskSDR returns the repository stored for t, or nil. It is tried
// once per State: on the first scrape with no repository in memory.
func loadDiskSDR(ctx context.Context, t *Target) *sdr.Repository {
	st := t.State
	c := diskCache(t)
	if c == nil || st.diskTried {
		return nil
	}
	st.diskTried = true
	logger := loggerOf(t)
	id, err := diskIdentity(ctx, t)
	if err != nil {
		level.Debug(logger).Log("msg", "SDR disk cache not used: no device ID", "err", err)
		return nil
	}
	repo, err := c.Load(t.Addr, id)
	switch {
	case err == nil:
		level.Debug(logger).Log("msg", "SDR repository loaded from the disk cache", "records", len(repo.Records))
		return repo
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, sdr.ErrCacheMismatch):
		level.Info(logger).Log("msg", "SDR disk cache is for other firmware or another BMC; walking the repository", "err", err)
	default:
		level.Warn(logger).Log("msg", "SDR disk cache unreadable; walking the repository", "err", err)
	}
	return nil
}

// storeDiskSDR stores repo, read by a walk, for t. A failure costs only
// the next restart's warm start.
func storeDiskSDR(ctx context.Context, t *Target, repo *sdr.Repository) {
	c := diskCache(t)
	if c == nil {
		return
	}
	logger := loggerOf(t)
	id, err := diskIdentity(ctx, t)
	if err == nil {
		err = c.Store(t.Addr, id, repo)
	}
	if err != nil {
		level.Warn(logger).Log("msg", "SDR repository not stored in the disk cache", "dir", c.Dir, "err", err)
	}
}
