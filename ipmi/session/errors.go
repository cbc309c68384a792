package session

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Every error this package returns for these
// conditions wraps one of them (test with errors.Is), or is an *AuthError.
var (
	// ErrUnreachable: nothing answered anything within the deadline, or the
	// host refused the datagrams (ICMP port/host unreachable, which a
	// connected UDP socket reports at once as ECONNREFUSED/EHOSTUNREACH).
	ErrUnreachable = errors.New("ipmi session: BMC unreachable")
	// ErrSessionLost: the BMC no longer knows the session (it expired or
	// was closed) and it could not be re-established within this call.
	ErrSessionLost = errors.New("ipmi session: session lost")
	// ErrTimeout: the BMC answered before but not this request within the
	// deadline. Errors wrapping it also wrap the context's error when the
	// caller's deadline was what ran out.
	ErrTimeout = errors.New("ipmi session: request timed out")
	// ErrClosed: the session was closed by Close.
	ErrClosed = errors.New("ipmi session: closed")
	// ErrProtocol: the BMC answered with something this client cannot use
	// (for example no IPMI v2.0 support, or an Open Session response naming
	// other algorithms than proposed).
	ErrProtocol = errors.New("ipmi session: protocol error")
	// ErrSessionTableFull: the BMC refused a new session for lack of a free
	// slot (RMCP+ status "insufficient resources", IPMI 1.5 Activate Session
	// "no session slot available"). Other clients hold its sessions; it is
	// worth retrying later, not worth changing credentials for.
	ErrSessionTableFull = errors.New("ipmi session: BMC has no free session slot")
)

// AuthErrorKind says why session setup was refused. Its String is the
// value used in metric labels.
type AuthErrorKind int

const (
	// WrongUser: the BMC does not know the user name (RAKP2 status 0x0D
	// "unauthorized name", Get Session Challenge 0x81/0x82).
	WrongUser AuthErrorKind = iota + 1
	// WrongPassword: the RAKP2 key exchange auth code did not verify with
	// our password, the BMC rejected ours (status 0x0F "invalid integrity
	// check value"), or an IPMI v1.5 Activate Session failed authentication.
	WrongPassword
	// WrongKG: the RAKP4 integrity check value did not verify: password
	// right (RAKP2 verified) but the BMC key K_G differs.
	WrongKG
	// NoCipherSuite: no cipher suite (or IPMI v1.5 auth type) in common
	// (RAKP status 0x11, or nothing usable offered).
	NoCipherSuite
	// PrivilegeRefused: the requested privilege level is not available to
	// this user (RAKP status 0x09/0x0A, Set Session Privilege Level
	// 0x80/0x81/0xD4, Activate Session 0x86).
	PrivilegeRefused
)

func (k AuthErrorKind) String() string {
	switch k {
	case WrongUser:
		return "wrong_user"
	case WrongPassword:
		return "wrong_password"
	case WrongKG:
		return "wrong_kg"
	case NoCipherSuite:
		return "no_cipher_suite"
	case PrivilegeRefused:
		return "privilege_refused"
	}
	return fmt.Sprintf("auth_error_%d", int(k))
}

// AuthError is a refused session setup. Detail says what the BMC answered
// (a status or completion code), never a secret.
//
// errors.Is(err, &AuthError{Kind: WrongPassword}) matches an AuthError of
// that kind; &AuthError{} (Kind 0) matches any.
type AuthError struct {
	Kind   AuthErrorKind
	Detail string
}

func (e *AuthError) Error() string {
	var what string
	switch e.Kind {
	case WrongUser:
		what = "unknown user name"
	case WrongPassword:
		what = "wrong password"
	case WrongKG:
		what = "wrong BMC key (K_G)"
	case NoCipherSuite:
		what = "no cipher suite in common"
	case PrivilegeRefused:
		what = "privilege level refused"
	default:
		what = e.Kind.String()
	}
	if e.Detail == "" {
		return "ipmi session: " + what
	}
	return "ipmi session: " + what + ": " + e.Detail
}

// Is makes errors.Is match on Kind.
func (e *AuthError) Is(target error) bool {
	t, ok := target.(*AuthError)
	return ok && (t.Kind == 0 || t.Kind == e.Kind)
}

func authError(kind AuthErrorKind, format string, args ...any) *AuthError {
	return &AuthError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}
