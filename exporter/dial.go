package exporter

import (
	"context"
	"errors"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/session"
)

// SessionDialer opens RMCP+ or IPMI 1.5 sessions with a module's settings,
// reporting session events to observer (may be nil).
func SessionDialer(observer session.Observer) Dialer {
	return func(ctx context.Context, addr string, m *config.Module) (ipmi.Transport, error) {
		cfg := session.Config{
			Host:           addr,
			Username:       m.User,
			Password:       m.Password.Bytes(),
			KG:             m.KG.Bytes(),
			Privilege:      m.Privilege,
			CipherSuite:    int(m.CipherSuite),
			NameOnlyLookup: m.NameOnlyLookup,
			Window:         m.Window,
			Observer:       observer,
		}
		if m.CipherSuite == config.CipherSuiteAuto {
			cfg.CipherSuite = session.CipherSuiteAuto
		}
		if m.Driver == config.DriverLAN {
			cfg.Driver = session.DriverLAN
			cfg.AuthType15 = map[config.AuthType]session.AuthType15{
				config.AuthTypeAuto:     session.AuthType15Auto,
				config.AuthTypeMD5:      session.AuthType15MD5,
				config.AuthTypePassword: session.AuthType15Straight,
				config.AuthTypeNone:     session.AuthType15None,
			}[m.AuthType]
		}
		s, err := session.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// IsSessionBroken reports errors after which a pooled session is dropped:
// the session layer already tried to re-establish it once within the call.
func IsSessionBroken(err error) bool {
	return errors.Is(err, session.ErrSessionLost) ||
		errors.Is(err, session.ErrUnreachable) ||
		errors.Is(err, session.ErrClosed) ||
		errors.Is(err, session.ErrProtocol)
}
