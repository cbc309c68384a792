package session

import (
	"sync"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
)

// LookupMode says how RAKP1 asks the BMC to find the user (IPMI v2.0
// section 13.20, the Role byte's bit 4).
type LookupMode int

const (
	// LookupAuto asks for name-only lookup first, as ipmitool, FreeIPMI,
	// go-ipmi and gebn/bmc all do by default, and on RAKP2 status 0x0D
	// (unauthorized name) tries once more, in a fresh Open Session, with
	// name+privilege lookup (ipmitool's -L PRIV+). What worked is kept in
	// Config.Memory for the next login.
	LookupAuto LookupMode = iota
	// LookupNameOnly: the BMC looks the user up by name alone, and
	// grants any privilege up to the user's limit.
	LookupNameOnly
	// LookupNamePrivilege: the BMC looks for the user name among the
	// accounts whose privilege limit is the requested one. OpenBMC and
	// Supermicro refuse a user whose limit differs (docs/bmc-quirks.md).
	LookupNamePrivilege
)

func (m LookupMode) String() string {
	switch m {
	case LookupAuto:
		return "auto"
	case LookupNameOnly:
		return "name-only lookup"
	case LookupNamePrivilege:
		return "name+privilege lookup"
	}
	return "lookup mode ?"
}

// other is the lookup mode LookupAuto falls back to.
func (m LookupMode) other() LookupMode {
	if m == LookupNamePrivilege {
		return LookupNameOnly
	}
	return LookupNamePrivilege
}

// Memory is what logins to one BMC learnt about it: the RAKP1 lookup mode
// and the cipher suite it accepted. Sessions to the same BMC with the same
// credentials share one, so a login after a dropped session goes straight
// to what worked instead of repeating refused attempts. The zero value
// knows nothing. It is safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	lookup LookupMode // LookupAuto: not known
	suite  int        // suite ID + 1; 0: not known
	window int        // adaptive window last run at; 0: not known
}

// Window returns the adaptive window the BMC's last session ran at, or 0.
func (m *Memory) Window() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.window
}

// rememberWindow records the adaptive window a session runs at.
func (m *Memory) rememberWindow(n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.window = n
	m.mu.Unlock()
}

// Lookup returns the lookup mode that last worked, or LookupAuto.
func (m *Memory) Lookup() LookupMode {
	if m == nil {
		return LookupAuto
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookup
}

// CipherSuite returns the suite the BMC last accepted (ok false if none).
func (m *Memory) CipherSuite() (id uint8, ok bool) {
	if m == nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint8(m.suite - 1), m.suite > 0
}

// remember records a login that worked.
func (m *Memory) remember(lookup LookupMode, suite crypto.CipherSuite) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.lookup, m.suite = lookup, int(suite.ID)+1
	m.mu.Unlock()
}

// forgetSuite drops a remembered suite the BMC refused.
func (m *Memory) forgetSuite() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.suite = 0
	m.mu.Unlock()
}

// ExpiryHint is the idle expiry last learnt by any of the sessions that
// share it: the exporter gives one to all the BMCs of a module, which are
// mostly one model with one firmware. A session that has not yet seen its
// own BMC drop an idle session keeps it alive as if it had (one Get Device
// ID before the hinted expiry): otherwise every BMC of a fleet loses its
// session once, and pays a probe and a new login, before it learns. A
// hint never makes a session presume its BMC's session gone: only its own
// evidence does. The zero value knows nothing; a nil *ExpiryHint is none.
// It is safe for concurrent use.
type ExpiryHint struct {
	mu    sync.Mutex
	after time.Duration
}

// learn records that a BMC dropped a session after quiet time after.
func (h *ExpiryHint) learn(after time.Duration) {
	if h == nil || after <= 0 {
		return
	}
	h.mu.Lock()
	h.after = after
	h.mu.Unlock()
}

// get returns the hinted expiry, 0 if none.
func (h *ExpiryHint) get() time.Duration {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.after
}
