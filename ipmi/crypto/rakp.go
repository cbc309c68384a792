package crypto

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// MaxPasswordLength is the longest IPMI v2.0 password (K_UID) and BMC key (K_G).
const MaxPasswordLength = 20

func (a AuthAlgorithm) newHash() func() hash.Hash {
	switch a {
	case AuthRAKPHMACSHA1:
		return sha1.New
	case AuthRAKPHMACMD5:
		return md5.New
	case AuthRAKPHMACSHA256:
		return sha256.New
	}
	return nil
}

// KeyExchangeAuthCodeLen is the length of the RAKP2/RAKP3 auth codes.
func (a AuthAlgorithm) KeyExchangeAuthCodeLen() int {
	switch a {
	case AuthRAKPHMACSHA1:
		return sha1.Size
	case AuthRAKPHMACMD5:
		return md5.Size
	case AuthRAKPHMACSHA256:
		return sha256.Size
	}
	return 0
}

// IntegrityCheckLen is the length of the RAKP4 integrity check value: the
// HMAC truncated to 96 bits for SHA-1 and 128 bits for SHA-256; full
// 128 bits for MD5 (IPMI v2.0 section 13.31, and errata for SHA-256).
func (a AuthAlgorithm) IntegrityCheckLen() int {
	switch a {
	case AuthRAKPHMACSHA1:
		return 12
	case AuthRAKPHMACMD5, AuthRAKPHMACSHA256:
		return 16
	}
	return 0
}

// keyConstantLen is the length of the constants K1 and K2 are derived
// from: 20 bytes for every authentication algorithm, SHA-256 included.
// ipmitool 1.8.19 and FreeIPMI 1.6.10 both use 20 with HMAC-SHA256, and
// BMCs follow them; 32 breaks the first authenticated packet after the
// handshake (docs/bmc-quirks.md).
const keyConstantLen = 20

// Handshake holds the values both sides know after RAKP2 and computes the
// auth codes and keys from them. Password and KG are the raw secrets
// (K_UID and K_G, at most 20 bytes; shorter ones are zero-padded, which
// HMAC makes equivalent to the unpadded key).
type Handshake struct {
	Suite            CipherSuite
	Username         string
	Password         []byte
	KG               []byte // empty or all-zero: K_UID is used (one-key login)
	Role             uint8  // the RAKP1 role byte as sent (privilege | name-only bit)
	ConsoleSessionID uint32
	BMCSessionID     uint32
	ConsoleRandom    [16]byte
	BMCRandom        [16]byte
	BMCGUID          [16]byte
}

func (h *Handshake) mac(key []byte, parts ...[]byte) []byte {
	nh := h.Suite.Auth.newHash()
	if nh == nil {
		return nil
	}
	m := hmac.New(nh, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func (h *Handshake) nameBytes() []byte {
	return append([]byte{h.Role, uint8(len(h.Username))}, h.Username...)
}

// RAKP2AuthCode is the key exchange auth code the BMC sends in RAKP2:
// HMAC_KUID(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm).
// It is empty for RAKP-none.
func (h *Handshake) RAKP2AuthCode() []byte {
	return h.mac(h.Password, u32(h.ConsoleSessionID), u32(h.BMCSessionID),
		h.ConsoleRandom[:], h.BMCRandom[:], h.BMCGUID[:], h.nameBytes())
}

// RAKP3AuthCode is the console's proof in RAKP3:
// HMAC_KUID(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm).
func (h *Handshake) RAKP3AuthCode() []byte {
	return h.mac(h.Password, h.BMCRandom[:], u32(h.ConsoleSessionID), h.nameBytes())
}

// SIK is the session integrity key: HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm),
// with K_UID standing in for an unset K_G.
func (h *Handshake) SIK() []byte {
	key := h.KG
	if isZero(key) {
		key = h.Password
	}
	return h.mac(key, h.ConsoleRandom[:], h.BMCRandom[:], h.nameBytes())
}

// RAKP4IntegrityCheck is the value the BMC sends in RAKP4:
// HMAC_SIK(Rm, SIDc, GUIDc), truncated per IntegrityCheckLen.
func (h *Handshake) RAKP4IntegrityCheck(sik []byte) []byte {
	sum := h.mac(sik, h.ConsoleRandom[:], u32(h.BMCSessionID), h.BMCGUID[:])
	if sum == nil {
		return nil
	}
	return sum[:h.Suite.Auth.IntegrityCheckLen()]
}

// SessionKeys are the keys derived from the SIK.
type SessionKeys struct {
	SIK []byte
	K1  []byte // integrity key
	K2  []byte // confidentiality key (AES uses its first 16 bytes)
}

// DeriveKeys computes SIK, K1 = HMAC_SIK(0x01 * n) and K2 = HMAC_SIK(0x02 * n).
// For RAKP-none all keys are empty.
func (h *Handshake) DeriveKeys() SessionKeys {
	sik := h.SIK()
	if sik == nil {
		return SessionKeys{}
	}
	n := keyConstantLen
	c1, c2 := make([]byte, n), make([]byte, n)
	for i := range c1 {
		c1[i], c2[i] = 1, 2
	}
	return SessionKeys{SIK: sik, K1: h.mac(sik, c1), K2: h.mac(sik, c2)}
}

// Equal compares two auth codes in constant time.
func Equal(a, b []byte) bool { return hmac.Equal(a, b) }

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// CheckSecretLength returns an error when a password or K_G is longer than
// IPMI v2.0 allows.
func CheckSecretLength(what string, b []byte) error {
	if len(b) > MaxPasswordLength {
		return fmt.Errorf("%s is %d bytes, IPMI allows at most %d", what, len(b), MaxPasswordLength)
	}
	return nil
}
