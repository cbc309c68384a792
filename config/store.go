package config

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotReloadable is returned by Reload on a Store that holds a fixed
// config (such as the --demo one) rather than a file.
var ErrNotReloadable = errors.New("config: not loaded from a file, nothing to reload")

// Store holds the current config and swaps it on a successful Reload. Every
// method is safe for concurrent use; Current is a single atomic load, so
// scrapes never wait for a reload.
type Store struct {
	path string
	// catalog is the collectors a loaded config may name.
	catalog Catalog
	now     func() time.Time

	current atomic.Pointer[Config]
	// reloadMu serializes reloads (SIGHUP and /-/reload may race) so the
	// metrics describe the reload that finished last.
	reloadMu sync.Mutex
	// require is what a config must also pass to be loaded (Require);
	// guarded by reloadMu.
	require func(*Config) error

	lastReloadSuccessful prometheus.Gauge
	lastReloadSuccessTS  prometheus.Gauge
}

// NewStore loads the config at path, checking collector names against
// catalog (see Load) on every load, and returns a Store holding it. The
// reload metrics are registered with reg unless it is nil. It fails if the
// first load fails: there is no old config to keep.
func NewStore(path string, reg prometheus.Registerer, catalog Catalog) (*Store, []Warning, error) {
	s := newStore(path)
	s.catalog = catalog
	if err := s.register(reg); err != nil {
		return nil, nil, err
	}
	warnings, err := s.Reload()
	if err != nil {
		return nil, warnings, err
	}
	return s, warnings, nil
}

// NewFixedStore returns a Store that always holds cfg, for configs that do
// not come from a file (--demo). Reload on it returns ErrNotReloadable.
func NewFixedStore(cfg *Config, reg prometheus.Registerer) (*Store, error) {
	if cfg == nil {
		return nil, errors.New("config: NewFixedStore needs a config")
	}
	s := newStore("")
	if err := s.register(reg); err != nil {
		return nil, err
	}
	s.current.Store(cfg)
	s.lastReloadSuccessful.Set(1)
	s.lastReloadSuccessTS.Set(float64(s.now().UnixNano()) / 1e9)
	return s, nil
}

func newStore(path string) *Store {
	return &Store{
		path: path,
		now:  time.Now,
		lastReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipmi_fleet_exporter_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful (1) or not (0).",
		}),
		lastReloadSuccessTS: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipmi_fleet_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
}

func (s *Store) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{s.lastReloadSuccessful, s.lastReloadSuccessTS} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("config: register reload metrics: %w", err)
		}
	}
	return nil
}

// Path returns the config file path ("" for a fixed store).
func (s *Store) Path() string { return s.path }

// Current returns the config in force. It never returns nil for a Store
// made by NewStore or NewFixedStore.
func (s *Store) Current() *Config { return s.current.Load() }

// Reload loads the file again (re-reading every pass_file and kg_file) and
// makes it current. On failure the previous config stays in force and the
// error says why.
func (s *Store) Reload() ([]Warning, error) {
	if s.path == "" {
		return nil, ErrNotReloadable
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, warnings, err := Load(s.path, s.catalog)
	if err == nil && s.require != nil {
		err = s.require(cfg)
	}
	if err != nil {
		s.lastReloadSuccessful.Set(0)
		return warnings, err
	}
	s.current.Store(cfg)
	s.lastReloadSuccessful.Set(1)
	s.lastReloadSuccessTS.Set(float64(s.now().UnixNano()) / 1e9)
	return warnings, nil
}

// Require makes check a condition of every later Reload (a config failing
// it is refused like an invalid file, keeping the current one) and
// returns what check says of the current config. It is for what flags
// expect of the file, such as --local.module naming an in-band module.
func (s *Store) Require(check func(*Config) error) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.require = check
	return check(s.Current())
}

// LogWarnings logs each warning at warn level with the file and line as
// separate keys. Warnings never contain secret values.
func LogWarnings(logger log.Logger, warnings []Warning) {
	for _, w := range warnings {
		kv := []any{"msg", w.Msg, "file", w.File}
		if w.Line > 0 {
			kv = append(kv, "line", w.Line)
		}
		_ = level.Warn(logger).Log(kv...)
	}
}

// LogErrors logs a failed load: one line per problem in the file (each
// "file:line: reason", the form editors jump to), so that several errors
// read as several lines rather than one line of escaped newlines.
func LogErrors(logger log.Logger, msg string, err error) {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		_ = level.Error(logger).Log("msg", msg, "err", e)
	}
}
