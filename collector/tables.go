package collector

import (
	"crypto/sha256"
	"runtime"
	"sync"
	"weak"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/sdr"
)

// SensorTables shares sensor tables between the BMCs whose SDR records
// are the same (a fleet is a few hardware models): the sensors, their
// label pairs and constant series are then held once per model and
// module rather than once per BMC. A table lives as long as a State uses
// it; SensorTables holds it weakly. One per process; the zero value is
// not usable: call NewSensorTables. Safe for concurrent use.
type SensorTables struct {
	mu     sync.Mutex
	tables map[tableKey]weak.Pointer[sensorTable]
}

// tableKey identifies a table: the SDR records (hashed as they encode),
// whether they are device SDRs, and the module (a reloaded configuration
// has new modules, so its tables are built afresh).
type tableKey struct {
	records [sha256.Size]byte
	device  bool
	module  *config.Module
}

// NewSensorTables returns an empty SensorTables.
func NewSensorTables() *SensorTables {
	return &SensorTables{tables: make(map[tableKey]weak.Pointer[sensorTable])}
}

// Len is how many tables are held (some may be dead and not yet
// removed).
func (s *SensorTables) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tables)
}

// table returns the sensor table of repo's records and module: one built
// earlier for the same records and module when there is one alive, a new
// one otherwise. A nil s builds a private table.
func (s *SensorTables) table(repo *sdr.Repository, module *config.Module) *sensorTable {
	if s == nil {
		return buildSensorTable(repo, module)
	}
	key := tableKey{records: recordsSum(repo.Records), device: repo.Device, module: module}
	if tbl := s.lookup(key); tbl != nil {
		return tbl
	}
	// Built outside the lock: a fleet's first scrapes all come here at
	// once. Of two built concurrently, the first stored wins.
	built := buildSensorTable(repo, module)
	s.mu.Lock()
	defer s.mu.Unlock()
	if tbl := s.tables[key].Value(); tbl != nil {
		return tbl
	}
	wp := weak.Make(built)
	s.tables[key] = wp
	runtime.AddCleanup(built, s.forget, tableRef{key, wp})
	return built
}

func (s *SensorTables) lookup(key tableKey) *sensorTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tables[key].Value()
}

// tableRef is a map entry as stored.
type tableRef struct {
	key tableKey
	wp  weak.Pointer[sensorTable]
}

// forget removes a collected table's entry, unless a newer table took
// its place.
func (s *SensorTables) forget(ref tableRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables[ref.key] == ref.wp {
		delete(s.tables, ref.key)
	}
}

// recordsSum hashes records as they encode (each record carries its
// length, so the concatenation is unambiguous).
func recordsSum(records []sdr.Record) [sha256.Size]byte {
	h := sha256.New()
	var buf []byte
	for _, rec := range records {
		buf = rec.AppendTo(buf[:0])
		h.Write(buf)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
