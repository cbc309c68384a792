package exporter

import (
	"context"
	"errors"
	"sync"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/inband"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// SessionDialer opens RMCP+ or IPMI 1.5 sessions with a module's settings,
// reporting session events to observer (may be nil).
func SessionDialer(observer session.Observer) Dialer {
	// Logins learn per BMC (session.Memory): the lookup mode and cipher
	// suite that worked, so sessions after the first go straight to
	// them. A module's BMCs are mostly one model, so one BMC's idle
	// expiry tells the others when to send keep-alives
	// (session.ExpiryHint); modules are few, so that needs no bound.
	memories := &registry[loginKey, session.Memory]{max: maxLoginMemories}
	hints := &registry[string, session.ExpiryHint]{}
	return func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error) {
		if m.InBand() {
			return openInBand(m)
		}
		cfg := sessionConfig(addr, m.SessionSettings)
		cfg.Memory = memories.get(loginKey{addr: addr, user: m.User, privilege: m.Privilege, driver: m.Driver})
		cfg.ExpiryHint = hints.get(m.Name)
		cfg.Observer = observer
		s, err := session.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// sessionConfig builds a session's settings from a module's: every
// config.SessionSettings field goes into it (a reload logs in again when
// one of them changes, and only then).
func sessionConfig(addr string, st config.SessionSettings) session.Config {
	cfg := session.Config{
		Host:        addr,
		Username:    st.User,
		Password:    st.Password.Bytes(),
		KG:          st.KG.Bytes(),
		Privilege:   st.Privilege,
		CipherSuite: int(st.CipherSuite),
		Lookup:      lookupMode(st.Lookup),
		Window:      int(st.Window),
		MaxWindow:   st.MaxWindow,
	}
	if st.Window == config.WindowAuto {
		cfg.Window = session.WindowAuto
	}
	if st.CipherSuite == config.CipherSuiteAuto {
		cfg.CipherSuite = session.CipherSuiteAuto
	}
	if st.Driver == config.DriverLAN {
		cfg.Driver = session.DriverLAN
		cfg.AuthType15 = map[config.AuthType]session.AuthType15{
			config.AuthTypeAuto:     session.AuthType15Auto,
			config.AuthTypeMD5:      session.AuthType15MD5,
			config.AuthTypePassword: session.AuthType15Straight,
			config.AuthTypeNone:     session.AuthType15None,
		}[st.AuthType]
	}
	return cfg
}

// lookupMode maps the name_only_lookup key to the session's mode.
func lookupMode(l config.LookupMode) session.LookupMode {
	switch l {
	case config.LookupNameOnly:
		return session.LookupNameOnly
	case config.LookupNamePrivilege:
		return session.LookupNamePrivilege
	}
	return session.LookupAuto
}

// loginKey names what a login to a BMC learns about: the same account at
// the same privilege over the same protocol.
type loginKey struct {
	addr, user string
	privilege  wire.PrivilegeLevel
	driver     config.Driver
}

// maxLoginMemories bounds what the dialer remembers. Past it, memory
// starts afresh: every BMC then pays one more Get Channel Cipher Suites
// and perhaps one more RAKP1 at its next login, and learns again.
const maxLoginMemories = 1 << 18

// registry holds one shared *V per key, made on first use; past max keys
// (0: no bound) it starts afresh.
type registry[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]*V
	max int
}

func (r *registry[K, V]) get(k K) *V {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.m[k]
	if v == nil {
		if r.m == nil {
			r.m = map[K]*V{}
		}
		if r.max > 0 && len(r.m) >= r.max {
			clear(r.m)
		}
		v = new(V)
		r.m[k] = v
	}
	return v
}

// IsSessionBroken reports errors after which a pooled session is dropped:
// the session layer already tried to re-establish it once within the call.
// An in-band transport is dropped when its device went away or its BMC
// stopped answering: the next scrape opens the device again (cheap, and
// the driver may have been reloaded).
func IsSessionBroken(err error) bool {
	return errors.Is(err, session.ErrSessionLost) ||
		errors.Is(err, session.ErrUnreachable) ||
		errors.Is(err, session.ErrClosed) ||
		errors.Is(err, session.ErrProtocol) ||
		errors.Is(err, inband.ErrClosed) ||
		errors.Is(err, inband.ErrNoDevice) ||
		errors.Is(err, inband.ErrNoBMC)
}
