package crypto

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
)

// Integrity computes and verifies the AuthCode of authenticated RMCP+
// packets. The signed data runs from the auth type byte of the session
// header through the next-header byte of the trailer.
//
// An Integrity keeps hash state and is not safe for concurrent use; a
// session serialises its use.
type Integrity interface {
	Algorithm() IntegrityAlgorithm
	// AuthCodeLen is the length of the AuthCode field on the wire.
	AuthCodeLen() int
	// AppendAuthCode appends the AuthCode of signed to dst.
	AppendAuthCode(dst, signed []byte) []byte
	// Verify reports, in constant time, whether code is signed's AuthCode.
	Verify(signed, code []byte) bool
}

// NewIntegrity returns the integrity algorithm of a session. k1 is the
// session's K1; password is K_UID, used only by MD5-128.
//
// Key choices where peers disagree: HMAC-MD5-128 uses K1, as the spec,
// ipmitool and FreeIPMI do. OpenIPMI's library keys it with the SIK, which
// is why ipmitool cannot use suites 7 and 8 against ipmi_sim
// (docs/bmc-quirks.md).
func NewIntegrity(alg IntegrityAlgorithm, k1, password []byte) (Integrity, error) {
	switch alg {
	case IntegrityNone:
		return nil, nil
	case IntegrityHMACSHA1_96:
		return &hmacIntegrity{alg: alg, mac: hmac.New(sha1.New, k1), n: 12}, nil
	case IntegrityHMACMD5_128:
		return &hmacIntegrity{alg: alg, mac: hmac.New(md5.New, k1), n: 16}, nil
	case IntegrityHMACSHA256128:
		return &hmacIntegrity{alg: alg, mac: hmac.New(sha256.New, k1), n: 16}, nil
	case IntegrityMD5_128:
		// MD5(K_UID, data, K_UID) with the password zero-padded to 20
		// bytes, as OpenIPMI's lanserv computes it.
		var pw [MaxPasswordLength]byte
		copy(pw[:], password)
		return &md5Integrity{password: pw, h: md5.New()}, nil
	}
	return nil, fmt.Errorf("integrity algorithm %s not supported", alg)
}

type hmacIntegrity struct {
	alg IntegrityAlgorithm
	mac hash.Hash
	n   int
	sum [sha256.Size]byte
}

func (h *hmacIntegrity) Algorithm() IntegrityAlgorithm { return h.alg }
func (h *hmacIntegrity) AuthCodeLen() int              { return h.n }

func (h *hmacIntegrity) compute(signed []byte) []byte {
	h.mac.Reset()
	h.mac.Write(signed)
	return h.mac.Sum(h.sum[:0])[:h.n]
}

func (h *hmacIntegrity) AppendAuthCode(dst, signed []byte) []byte {
	return append(dst, h.compute(signed)...)
}

func (h *hmacIntegrity) Verify(signed, code []byte) bool {
	return hmac.Equal(h.compute(signed), code)
}

type md5Integrity struct {
	password [MaxPasswordLength]byte
	h        hash.Hash
	sum      [md5.Size]byte
}

func (m *md5Integrity) Algorithm() IntegrityAlgorithm { return IntegrityMD5_128 }
func (m *md5Integrity) AuthCodeLen() int              { return md5.Size }

func (m *md5Integrity) compute(signed []byte) []byte {
	m.h.Reset()
	m.h.Write(m.password[:])
	m.h.Write(signed)
	m.h.Write(m.password[:])
	return m.h.Sum(m.sum[:0])
}

func (m *md5Integrity) AppendAuthCode(dst, signed []byte) []byte {
	return append(dst, m.compute(signed)...)
}

func (m *md5Integrity) Verify(signed, code []byte) bool {
	return hmac.Equal(m.compute(signed), code)
}
