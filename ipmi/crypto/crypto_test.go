package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seq(from byte) (r [16]byte) {
	for i := range r {
		r[i] = from + byte(i)
	}
	return r
}

// The expected values below were computed with Python's hmac/hashlib, an
// implementation independent of Go's, from the same inputs. K1 and K2 use
// 20-byte constants for SHA-256 too, as ipmitool and FreeIPMI do.
func TestHandshakeVectors(t *testing.T) {
	for _, tc := range []struct {
		suite                         uint8
		rakp2, rakp3, sik, k1, k2, r4 string
		sikWithKG                     string
	}{
		{3, "447f8d84fe5f5896e838f87b3fd7133c9a850907", "ffb6513bc1a6e430936cbd46915efdd6f905cab8",
			"d1ac7c2fd468a197e20fbd43743bb42e4db03700", "0adfd128351096a94e825280ae950a02eaec0ba2",
			"0bb6144cb62386d092007ffe0724040a47d06f11", "5a61777e29260b3438a077a1",
			"ec1f72dbffdcff20dec8e88753e737ba53229f2c"},
		{8, "d541bf8b07b06c4d4c861e0a5cc53747", "0f7644ce8722b5ac7763ea1888790920",
			"170c901c8eb7e637e85f711467a17d42", "1cadc4d214a8681bcc5ab65a1367debd",
			"d1346735ac219169ae5ef99fb3e0f3eb", "638e408717c1a36b225ebcf6fc3adf09",
			"7a3ead0c6890e175b9144d492d4cf01b"},
		{17, "ceba2f18ffa0132e8d026443f9f9e8a4cc46df5106e92b005305b03bcf332be9",
			"db76b00ac955cb5919a85b951fa03d94feca7b456acc9785d4d454e1b459856d",
			"b642f007a5d6fc30531e4e4f1cdf627b144bad05abf3b2e6b6bc98407706239c",
			"acaa4aecea54866b00f8ac700cc9825c356f5577d2e386b33bd8b0843a4a4f39",
			"6359694604e8c7f6f279ad2c344262c83abf5a9d4030d67af64af58aae5e1f9e",
			"6563b4b8de9ce7ffe9be4b85262d82d1",
			"8f05a1ffdeaea90044dad62d6b395728ccdd5b372b562c6975e51601613e0a85"},
	} {
		suite, _ := LookupCipherSuite(tc.suite)
		h := Handshake{Suite: suite, Username: "admin", Password: []byte("password"), Role: 0x14,
			ConsoleSessionID: 0xa0a1a2a3, BMCSessionID: 0x02000000,
			ConsoleRandom: seq(0x10), BMCRandom: seq(0x20), BMCGUID: seq(0x30)}
		check := func(name string, got []byte, want string) {
			if hex.EncodeToString(got) != want {
				t.Errorf("suite %d %s = %x, want %s", tc.suite, name, got, want)
			}
		}
		check("RAKP2", h.RAKP2AuthCode(), tc.rakp2)
		check("RAKP3", h.RAKP3AuthCode(), tc.rakp3)
		keys := h.DeriveKeys()
		check("SIK", keys.SIK, tc.sik)
		check("K1", keys.K1, tc.k1)
		check("K2", keys.K2, tc.k2)
		check("RAKP4", h.RAKP4IntegrityCheck(keys.SIK), tc.r4)
		if len(h.RAKP2AuthCode()) != suite.Auth.KeyExchangeAuthCodeLen() {
			t.Errorf("suite %d: auth code length", tc.suite)
		}
		h.KG = []byte("kgkey")
		check("SIK with KG", h.SIK(), tc.sikWithKG)
		h.KG = make([]byte, 20) // all-zero K_G means "not set"
		check("SIK with zero KG", h.SIK(), tc.sik)
	}
}

func TestRAKPNone(t *testing.T) {
	suite, _ := LookupCipherSuite(0)
	h := Handshake{Suite: suite, Password: []byte("x")}
	if h.RAKP2AuthCode() != nil || h.RAKP3AuthCode() != nil || h.DeriveKeys().K1 != nil || h.RAKP4IntegrityCheck(nil) != nil {
		t.Fatal("RAKP-none must produce no auth codes or keys")
	}
}

func TestIntegrityVectors(t *testing.T) {
	signed := make([]byte, 40)
	for i := range signed {
		signed[i] = byte(i)
	}
	k1 := bytes.Repeat([]byte{0x11}, 20)
	for _, tc := range []struct {
		alg  IntegrityAlgorithm
		k1   []byte
		want string
	}{
		{IntegrityHMACSHA1_96, k1, "fba229d0b2af4f47292aae3d"},
		{IntegrityHMACMD5_128, k1, "aff7888d071f64868bb99ac7cef13d6d"},
		{IntegrityHMACSHA256128, bytes.Repeat([]byte{0x11}, 32), "f59cf668cd9f1409b7682e216bb70d3e"},
		{IntegrityMD5_128, nil, "23b12ddfc23a2857078042354b69a065"},
	} {
		in, err := NewIntegrity(tc.alg, tc.k1, []byte("password"))
		if err != nil {
			t.Fatal(err)
		}
		code := in.AppendAuthCode(nil, signed)
		if hex.EncodeToString(code) != tc.want || in.AuthCodeLen() != len(code) {
			t.Errorf("%s = %x, want %s", tc.alg, code, tc.want)
		}
		if !in.Verify(signed, code) {
			t.Errorf("%s: own code does not verify", tc.alg)
		}
		code[0] ^= 1
		if in.Verify(signed, code) {
			t.Errorf("%s: tampered code verifies", tc.alg)
		}
		if in.Verify(signed, code[:4]) {
			t.Errorf("%s: truncated code verifies", tc.alg)
		}
	}
	if in, err := NewIntegrity(IntegrityNone, nil, nil); in != nil || err != nil {
		t.Error("none must give no Integrity")
	}
	if _, err := NewIntegrity(9, nil, nil); err == nil {
		t.Error("unknown algorithm accepted")
	}
}

// Expected ciphertext from `openssl enc -aes-128-cbc -nopad`.
func TestAESCBC128Vector(t *testing.T) {
	c, err := NewAESCBC128(unhex(t, "000102030405060708090a0b0c0d0e0f"+"ffff"))
	if err != nil {
		t.Fatal(err)
	}
	data := unhex(t, "0102030405060708090a0b0c0d0e0f1011")
	iv := unhex(t, "101112131415161718191a1b1c1d1e1f")
	got, err := c.AppendEncrypt([]byte{0xAB}, data, bytes.NewReader(iv))
	if err != nil {
		t.Fatal(err)
	}
	want := "ab" + hex.EncodeToString(iv) + "c954e31034ca62251b8ceee58968211c970750fb85a58b950026b02b44908c2c"
	if hex.EncodeToString(got) != want {
		t.Fatalf("ciphertext %x\nwant       %s", got, want)
	}
	plain, err := c.Decrypt(got[1:])
	if err != nil || !bytes.Equal(plain, data) {
		t.Fatalf("decrypt = %x, %v", plain, err)
	}
	for _, n := range []int{0, 1, 14, 15, 16, 31, 100} {
		d := bytes.Repeat([]byte{7}, n)
		enc, err := c.AppendEncrypt(nil, d, bytes.NewReader(iv))
		if err != nil {
			t.Fatal(err)
		}
		if p, err := c.Decrypt(enc); err != nil || !bytes.Equal(p, d) {
			t.Fatalf("len %d: round trip %x %v", n, p, err)
		}
	}
}

func TestAESCBC128Rejects(t *testing.T) {
	c, _ := NewAESCBC128(make([]byte, 16))
	for _, n := range []int{0, 16, 17, 40} {
		if _, err := c.Decrypt(make([]byte, n)); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	if _, err := NewAESCBC128(make([]byte, 8)); err == nil {
		t.Error("short key accepted")
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		offered []uint8
		want    uint8
		ok      bool
	}{
		{[]uint8{0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17}, 17, true},
		{[]uint8{0, 1, 2, 3, 6, 7, 8, 11}, 3, true},
		{[]uint8{0, 1, 6}, 1, true},
		{[]uint8{0}, 0, false},
		{[]uint8{4, 5, 9}, 0, false},
		{nil, 0, false},
	} {
		s, ok := NegotiateCipherSuite(tc.offered)
		if ok != tc.ok || (ok && s.ID != tc.want) {
			t.Errorf("%v: got %v %v", tc.offered, s, ok)
		}
	}
	if _, ok := LookupCipherSuite(4); ok {
		t.Error("xRC4 suite 4 must not be supported")
	}
}

// Computed with Python hashlib: MD5(pw16, sid, msg, seq, pw16).
func TestAuthCode15(t *testing.T) {
	code, err := AuthCode15(wire.AuthTypeMD5, []byte("password"), 0x11223344, 5, []byte{0x20, 0x18, 0xc8})
	if err != nil || hex.EncodeToString(code[:]) != "ab9ee24fd1f90d9fff1f8d59a78170b4" {
		t.Fatalf("md5 = %x %v", code, err)
	}
	code, _ = AuthCode15(wire.AuthTypeStraight, []byte("password"), 1, 2, nil)
	if string(code[:8]) != "password" || code[8] != 0 {
		t.Fatalf("straight = %x", code)
	}
	if _, err := AuthCode15(wire.AuthTypeMD2, nil, 0, 0, nil); err == nil {
		t.Fatal("md2 claimed")
	}
}

func BenchmarkIntegritySHA1(b *testing.B) {
	in, _ := NewIntegrity(IntegrityHMACSHA1_96, bytes.Repeat([]byte{1}, 20), nil)
	signed := make([]byte, 64)
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = in.AppendAuthCode(buf[:0], signed)
	}
}
