package session

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/crypto"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Driver selects the session protocol.
type Driver int

const (
	// DriverLAN20 is IPMI v2.0 RMCP+ ("LAN_2_0", the default).
	DriverLAN20 Driver = iota
	// DriverLAN is IPMI v1.5 ("LAN").
	DriverLAN
)

func (d Driver) String() string {
	switch d {
	case DriverLAN20:
		return "LAN_2_0"
	case DriverLAN:
		return "LAN"
	}
	return fmt.Sprintf("driver_%d", int(d))
}

// CipherSuiteAuto lets OpenRMCPPlus pick the strongest suite the BMC
// offers (see crypto.NegotiateCipherSuite).
const CipherSuiteAuto = -1

// AuthType15 selects the IPMI v1.5 authentication type.
type AuthType15 int

const (
	// AuthType15Auto picks MD5 when the BMC offers it. Straight password
	// (the password in the clear) and none (no authentication) are never
	// picked automatically, as cipher suite 0 is not.
	AuthType15Auto AuthType15 = iota
	AuthType15MD5
	AuthType15Straight
	AuthType15None
)

func (a AuthType15) wire() wire.AuthType {
	switch a {
	case AuthType15MD5:
		return wire.AuthTypeMD5
	case AuthType15Straight:
		return wire.AuthTypeStraight
	}
	return wire.AuthTypeNone
}

// DefaultPort is the RMCP port.
const DefaultPort = "623"

// Defaults applied to zero Config fields.
const (
	DefaultTimeout       = 4 * time.Second
	DefaultRetryInterval = 500 * time.Millisecond
	DefaultStaleAfter    = 20 * time.Second
	// maxRetryInterval caps the exponential retransmit backoff.
	maxRetryInterval = 2 * time.Second
)

// Config describes one BMC session. The zero value of every field but
// Host is usable except CipherSuite, whose zero is suite 0 (no
// authentication); callers normally set CipherSuiteAuto.
type Config struct {
	// Host is "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6
	// literal; the port defaults to 623.
	Host string
	// Driver: DriverLAN20 (default) or DriverLAN.
	Driver   Driver
	Username string
	// Password is K_UID (at most 20 bytes for RMCP+, 16 for IPMI v1.5).
	Password []byte
	// KG is the BMC key K_G (at most 20 bytes); empty or all-zero means the
	// password is used in its place, as the spec says.
	KG []byte
	// Privilege is the session privilege; zero means USER.
	Privilege wire.PrivilegeLevel
	// CipherSuite is the RMCP+ suite ID, or CipherSuiteAuto.
	CipherSuite int
	// Lookup is how RAKP1 asks the BMC to find the user; the zero value,
	// LookupAuto, does what ipmitool and FreeIPMI do (see LookupMode).
	Lookup LookupMode
	// Memory, when not nil, is shared by the sessions to one BMC with the
	// same credentials: a login starts from the lookup mode and cipher
	// suite that last worked and records what works.
	Memory *Memory
	// ExpiryHint, when not nil, is shared by the sessions to BMCs that
	// likely drop idle sessions alike (a module's): what one learns about
	// its BMC's idle expiry, the others use for keep-alives.
	ExpiryHint *ExpiryHint
	// AuthType15 is the IPMI v1.5 authentication type (DriverLAN only).
	AuthType15 AuthType15
	// Window is how many requests may be in flight at once, or
	// WindowAuto: adaptive, from 1 up to MaxWindow, as the BMC copes
	// (window.go). Zero means 1.
	Window int
	// MaxWindow caps the adaptive window (default DefaultMaxWindow, at
	// most 63).
	MaxWindow int
	// Timeout is how long one request, or one step of session setup, may
	// go unanswered (within the caller's deadline, which still bounds
	// everything). A request on an open session unanswered this long
	// makes the session presumed dead and re-established. Default
	// DefaultTimeout.
	Timeout time.Duration
	// StaleAfter is how long a session may go without an answer before a
	// request on it is presumed lost after a short probe (about a second)
	// rather than after Timeout: the BMC has probably expired it. Default
	// DefaultStaleAfter, below the 30-60 s idle timeout of BMCs.
	StaleAfter time.Duration
	// RetryInterval is the wait before the first retransmit of a kind of
	// request whose response time is not measured yet; once it is, the
	// wait follows it (rto.go). Each further retransmit doubles the wait
	// (up to 2 s). Default DefaultRetryInterval.
	RetryInterval time.Duration
	// MinRetryInterval is the least wait before a retransmit, however
	// fast the BMC answers. Default DefaultMinRetryInterval.
	MinRetryInterval time.Duration
	// Observer receives metrics events; nil observes nothing.
	Observer Observer
	// Resolver resolves Host; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// withDefaults validates c and returns a copy with defaults applied.
// The secrets are copied so a caller may wipe its own.
func (c Config) withDefaults() (Config, error) {
	if c.Host == "" {
		return c, fmt.Errorf("ipmi session: no host")
	}
	if c.Privilege == 0 {
		c.Privilege = wire.PrivilegeUser
	}
	if c.Privilege > wire.PrivilegeOEM {
		return c, fmt.Errorf("ipmi session: privilege level %d out of range", c.Privilege)
	}
	if c.Lookup < LookupAuto || c.Lookup > LookupNamePrivilege {
		return c, fmt.Errorf("ipmi session: unknown lookup mode %d", c.Lookup)
	}
	switch {
	case c.Window == WindowAuto:
	case c.Window <= 0:
		c.Window = 1
	case c.Window > maxWindow:
		c.Window = maxWindow
	}
	if c.MaxWindow <= 0 {
		c.MaxWindow = DefaultMaxWindow
	}
	c.MaxWindow = min(c.MaxWindow, maxWindow)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.MinRetryInterval <= 0 {
		c.MinRetryInterval = DefaultMinRetryInterval
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	switch c.Driver {
	case DriverLAN20:
		if len(c.Username) > wire.MaxUsernameLength {
			return c, fmt.Errorf("ipmi session: user name is %d bytes, RMCP+ allows %d", len(c.Username), wire.MaxUsernameLength)
		}
		if err := crypto.CheckSecretLength("password", c.Password); err != nil {
			return c, fmt.Errorf("ipmi session: %w", err)
		}
		if err := crypto.CheckSecretLength("K_G", c.KG); err != nil {
			return c, fmt.Errorf("ipmi session: %w", err)
		}
		if c.CipherSuite != CipherSuiteAuto {
			if c.CipherSuite < 0 || c.CipherSuite > 0xFF {
				return c, fmt.Errorf("ipmi session: cipher suite %d out of range", c.CipherSuite)
			}
			if _, ok := crypto.LookupCipherSuite(uint8(c.CipherSuite)); !ok {
				return c, fmt.Errorf("ipmi session: cipher suite %d not supported (have %v)", c.CipherSuite, crypto.SupportedCipherSuiteIDs())
			}
		}
	case DriverLAN:
		if len(c.Username) > 16 {
			return c, fmt.Errorf("ipmi session: user name is %d bytes, IPMI v1.5 allows 16", len(c.Username))
		}
		if len(c.Password) > crypto.MaxPassword15Length {
			return c, fmt.Errorf("ipmi session: password is %d bytes, IPMI v1.5 allows %d", len(c.Password), crypto.MaxPassword15Length)
		}
		if c.AuthType15 < AuthType15Auto || c.AuthType15 > AuthType15None {
			return c, fmt.Errorf("ipmi session: unknown IPMI v1.5 auth type %d", c.AuthType15)
		}
	default:
		return c, fmt.Errorf("ipmi session: unknown driver %d", c.Driver)
	}
	c.Password = append([]byte(nil), c.Password...)
	c.KG = append([]byte(nil), c.KG...)
	return c, nil
}

// HostPort normalizes a Host value to "host:port" (IPv6 in brackets) with
// the default port 623 filled in.
func HostPort(h string) (string, error) {
	host, port := h, DefaultPort
	switch {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("ipmi session: host %q: missing ']'", h)
		}
		host = h[1:end]
		rest := h[end+1:]
		if rest != "" {
			if rest[0] != ':' || len(rest) == 1 {
				return "", fmt.Errorf("ipmi session: host %q: junk after ']'", h)
			}
			port = rest[1:]
		}
	case strings.Count(h, ":") == 1:
		var err error
		if host, port, err = net.SplitHostPort(h); err != nil {
			return "", fmt.Errorf("ipmi session: host %q: %w", h, err)
		}
	}
	if host == "" {
		return "", fmt.Errorf("ipmi session: host %q: empty host", h)
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("ipmi session: host %q: bad port %q", h, port)
		}
	}
	if port == "" || len(port) > 5 {
		return "", fmt.Errorf("ipmi session: host %q: bad port %q", h, port)
	}
	return net.JoinHostPort(host, port), nil
}
