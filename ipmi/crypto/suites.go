// Package crypto implements the RMCP+ security algorithms: cipher suites,
// the RAKP key-exchange auth codes and session keys (SIK, K1, K2), the
// integrity algorithms, AES-CBC-128 confidentiality, and the IPMI v1.5
// session auth codes. Client and simulator share it, so each computation
// exists once and both directions are tested against each other.
package crypto

import "fmt"

// AuthAlgorithm is an RMCP+ authentication algorithm (IPMI v2.0 table 13-17).
type AuthAlgorithm uint8

const (
	AuthRAKPNone       AuthAlgorithm = 0x00
	AuthRAKPHMACSHA1   AuthAlgorithm = 0x01
	AuthRAKPHMACMD5    AuthAlgorithm = 0x02
	AuthRAKPHMACSHA256 AuthAlgorithm = 0x03
)

func (a AuthAlgorithm) String() string {
	switch a {
	case AuthRAKPNone:
		return "RAKP-none"
	case AuthRAKPHMACSHA1:
		return "RAKP-HMAC-SHA1"
	case AuthRAKPHMACMD5:
		return "RAKP-HMAC-MD5"
	case AuthRAKPHMACSHA256:
		return "RAKP-HMAC-SHA256"
	}
	return fmt.Sprintf("auth_0x%02x", uint8(a))
}

// IntegrityAlgorithm is an RMCP+ integrity algorithm (table 13-18).
type IntegrityAlgorithm uint8

const (
	IntegrityNone          IntegrityAlgorithm = 0x00
	IntegrityHMACSHA1_96   IntegrityAlgorithm = 0x01
	IntegrityHMACMD5_128   IntegrityAlgorithm = 0x02
	IntegrityMD5_128       IntegrityAlgorithm = 0x03
	IntegrityHMACSHA256128 IntegrityAlgorithm = 0x04
)

func (a IntegrityAlgorithm) String() string {
	switch a {
	case IntegrityNone:
		return "none"
	case IntegrityHMACSHA1_96:
		return "HMAC-SHA1-96"
	case IntegrityHMACMD5_128:
		return "HMAC-MD5-128"
	case IntegrityMD5_128:
		return "MD5-128"
	case IntegrityHMACSHA256128:
		return "HMAC-SHA256-128"
	}
	return fmt.Sprintf("integrity_0x%02x", uint8(a))
}

// ConfidentialityAlgorithm is an RMCP+ confidentiality algorithm (table 13-19).
type ConfidentialityAlgorithm uint8

const (
	ConfidentialityNone      ConfidentialityAlgorithm = 0x00
	ConfidentialityAESCBC128 ConfidentialityAlgorithm = 0x01
	ConfidentialityXRC4_128  ConfidentialityAlgorithm = 0x02
	ConfidentialityXRC4_40   ConfidentialityAlgorithm = 0x03
)

func (a ConfidentialityAlgorithm) String() string {
	switch a {
	case ConfidentialityNone:
		return "none"
	case ConfidentialityAESCBC128:
		return "AES-CBC-128"
	case ConfidentialityXRC4_128:
		return "xRC4-128"
	case ConfidentialityXRC4_40:
		return "xRC4-40"
	}
	return fmt.Sprintf("confidentiality_0x%02x", uint8(a))
}

// CipherSuite is a standard cipher suite (IPMI v2.0 table 22-20).
type CipherSuite struct {
	ID              uint8
	Auth            AuthAlgorithm
	Integrity       IntegrityAlgorithm
	Confidentiality ConfidentialityAlgorithm
}

func (c CipherSuite) String() string {
	return fmt.Sprintf("suite %d (%s, %s, %s)", c.ID, c.Auth, c.Integrity, c.Confidentiality)
}

// supportedSuites are the suites this implementation speaks. The xRC4
// suites (4, 5, 9, 10, 13, 14) are deliberately absent: RC4 is broken and
// no current BMC requires it.
var supportedSuites = [...]CipherSuite{
	{0, AuthRAKPNone, IntegrityNone, ConfidentialityNone},
	{1, AuthRAKPHMACSHA1, IntegrityNone, ConfidentialityNone},
	{2, AuthRAKPHMACSHA1, IntegrityHMACSHA1_96, ConfidentialityNone},
	{3, AuthRAKPHMACSHA1, IntegrityHMACSHA1_96, ConfidentialityAESCBC128},
	{6, AuthRAKPHMACMD5, IntegrityNone, ConfidentialityNone},
	{7, AuthRAKPHMACMD5, IntegrityHMACMD5_128, ConfidentialityNone},
	{8, AuthRAKPHMACMD5, IntegrityHMACMD5_128, ConfidentialityAESCBC128},
	{11, AuthRAKPHMACMD5, IntegrityMD5_128, ConfidentialityNone},
	{12, AuthRAKPHMACMD5, IntegrityMD5_128, ConfidentialityAESCBC128},
	{15, AuthRAKPHMACSHA256, IntegrityNone, ConfidentialityNone},
	{16, AuthRAKPHMACSHA256, IntegrityHMACSHA256128, ConfidentialityNone},
	{17, AuthRAKPHMACSHA256, IntegrityHMACSHA256128, ConfidentialityAESCBC128},
}

// LookupCipherSuite returns the supported suite with the given ID.
func LookupCipherSuite(id uint8) (CipherSuite, bool) {
	for _, s := range supportedSuites {
		if s.ID == id {
			return s, true
		}
	}
	return CipherSuite{}, false
}

// SupportedCipherSuiteIDs lists the IDs this implementation speaks.
func SupportedCipherSuiteIDs() []uint8 {
	ids := make([]uint8, len(supportedSuites))
	for i, s := range supportedSuites {
		ids[i] = s.ID
	}
	return ids
}

// autoPreference is the order "auto" negotiation tries, strongest first:
// SHA-256 then SHA-1 with encryption, as the issue and most current BMCs
// prefer. Suite 0 (no authentication at all) is never chosen
// automatically: it accepts any password, so it must be asked for by name.
// Suites 12 and 11 (MD5-128 integrity) come after every suite with
// SHA-1 or HMAC-MD5 integrity: ipmi_sim 2.0.33 crashes on some sessions
// with them (docs/bmc-quirks.md).
var autoPreference = [...]uint8{17, 3, 16, 8, 2, 7, 12, 11, 15, 1, 6}

// NegotiateCipherSuite picks the strongest suite in autoPreference that the
// BMC offers. ok is false when there is none in common.
func NegotiateCipherSuite(offered []uint8) (CipherSuite, bool) {
	for _, id := range autoPreference {
		for _, o := range offered {
			if o == id {
				return LookupCipherSuite(id)
			}
		}
	}
	return CipherSuite{}, false
}
