package simulator

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// User is a BMC user account.
type User struct {
	// ID is the user ID Get Session Info reports (1-63). Zero means the
	// position in BMCConfig.Users plus 2 (user 1 is by convention the
	// anonymous user).
	ID       uint8
	Name     string // empty = the null user
	Password string // at most 20 bytes (16 for IPMI 1.5 logins)
	// Privilege is the user's privilege limit on the LAN channel; zero
	// means administrator.
	Privilege wire.PrivilegeLevel
}

// Defaults of BMCConfig.
const (
	DefaultMaxSessions    = 4
	DefaultSessionTimeout = 60 * time.Second
	DefaultLANChannel     = 1
)

// BMCConfig is the LAN-side configuration shared by every BMC of a fleet:
// accounts, enabled algorithms and session limits. It is read-only once a
// fleet is built.
type BMCConfig struct {
	Users []User
	// KG is the BMC key K_G (at most 20 bytes); empty means none, so the
	// session keys derive from the user password.
	KG []byte
	// CipherSuites lists the RMCP+ cipher suites the BMC offers and
	// accepts; nil means every suite crypto supports.
	CipherSuites []uint8
	// AuthTypes15 lists the IPMI 1.5 session authentication types
	// accepted; nil means none, straight password and MD5. An empty
	// non-nil slice disables IPMI 1.5 sessions.
	AuthTypes15 []wire.AuthType
	// MaxSessions is the session table size (default 4, as on many real
	// BMCs); Open Session beyond it fails with "insufficient resources".
	MaxSessions int
	// SessionTimeout closes sessions idle for that long (default 60 s).
	SessionTimeout time.Duration
	// Channel is the LAN channel number reported (default 1).
	Channel uint8
}

// normalized returns a copy with defaults applied, or an error for an
// unusable configuration.
func (c BMCConfig) normalized() (BMCConfig, error) {
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxSessions < 1 || c.MaxSessions > 63 {
		return c, fmt.Errorf("max sessions %d: want 1-63", c.MaxSessions)
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.SessionTimeout < 0 {
		return c, fmt.Errorf("session timeout %s is negative", c.SessionTimeout)
	}
	if c.Channel == 0 {
		c.Channel = DefaultLANChannel
	}
	if c.Channel > 0x0B {
		return c, fmt.Errorf("LAN channel %d: want 1-11", c.Channel)
	}
	if err := crypto.CheckSecretLength("K_G", c.KG); err != nil {
		return c, err
	}
	c.KG = slices.Clone(c.KG)
	if c.CipherSuites == nil {
		c.CipherSuites = crypto.SupportedCipherSuiteIDs()
	} else {
		c.CipherSuites = slices.Clone(c.CipherSuites)
		for _, id := range c.CipherSuites {
			if _, ok := crypto.LookupCipherSuite(id); !ok {
				return c, fmt.Errorf("cipher suite %d is not supported (supported: %v)", id, crypto.SupportedCipherSuiteIDs())
			}
		}
	}
	if c.AuthTypes15 == nil {
		c.AuthTypes15 = []wire.AuthType{wire.AuthTypeNone, wire.AuthTypeStraight, wire.AuthTypeMD5}
	} else {
		c.AuthTypes15 = slices.Clone(c.AuthTypes15)
		for _, t := range c.AuthTypes15 {
			switch t {
			case wire.AuthTypeNone, wire.AuthTypeStraight, wire.AuthTypeMD5:
			default:
				return c, fmt.Errorf("IPMI 1.5 auth type %s is not supported (none, password, md5)", t)
			}
		}
	}
	if len(c.Users) == 0 {
		return c, errors.New("no users configured")
	}
	users := make([]User, len(c.Users))
	seen := map[uint8]bool{}
	for i, u := range c.Users {
		if u.ID == 0 {
			u.ID = uint8(i + 2)
		}
		if u.ID > 63 {
			return c, fmt.Errorf("user %q: ID %d out of range 1-63", u.Name, u.ID)
		}
		if seen[u.ID] {
			return c, fmt.Errorf("user %q: duplicate user ID %d", u.Name, u.ID)
		}
		seen[u.ID] = true
		if u.Privilege == 0 {
			u.Privilege = wire.PrivilegeAdmin
		}
		if u.Privilege < wire.PrivilegeCallback || u.Privilege > wire.PrivilegeOEM {
			return c, fmt.Errorf("user %q: privilege %s", u.Name, u.Privilege)
		}
		if len(u.Name) > wire.MaxUsernameLength {
			return c, fmt.Errorf("user %q: name longer than %d bytes", u.Name, wire.MaxUsernameLength)
		}
		if err := crypto.CheckSecretLength("password of user "+u.Name, []byte(u.Password)); err != nil {
			return c, err
		}
		users[i] = u
	}
	c.Users = users
	return c, nil
}

// suiteEnabled reports whether the cipher suite id is offered.
func (c *BMCConfig) suiteEnabled(id uint8) bool { return slices.Contains(c.CipherSuites, id) }

// authType15Enabled reports whether IPMI 1.5 auth type t is accepted.
func (c *BMCConfig) authType15Enabled(t wire.AuthType) bool { return slices.Contains(c.AuthTypes15, t) }

// userByName returns the first user with that name.
func (c *BMCConfig) userByName(name string) *User {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i]
		}
	}
	return nil
}

// userByNameAndPrivilege returns the first user with that name whose
// privilege limit allows priv ("username/privilege" lookup in RAKP1).
func (c *BMCConfig) userByNameAndPrivilege(name string, priv wire.PrivilegeLevel) *User {
	for i := range c.Users {
		if c.Users[i].Name == name && c.Users[i].Privilege >= priv {
			return &c.Users[i]
		}
	}
	return nil
}
