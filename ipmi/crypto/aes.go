package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// ErrDecrypt is returned for an encrypted payload that cannot be decrypted
// (wrong length or padding): with the right keys that only happens to a
// corrupt or forged packet.
var ErrDecrypt = errors.New("rmcp+ confidentiality: cannot decrypt payload")

// AESCBC128 is the RMCP+ AES-CBC-128 confidentiality algorithm (IPMI v2.0
// section 13.29): payload = IV (16) || AES-CBC(data || pad 1..n || n).
type AESCBC128 struct {
	block cipher.Block
}

// NewAESCBC128 keys the cipher with the first 16 bytes of K2.
func NewAESCBC128(k2 []byte) (*AESCBC128, error) {
	if len(k2) < 16 {
		return nil, fmt.Errorf("AES-CBC-128 needs 16 key bytes, K2 has %d", len(k2))
	}
	b, err := aes.NewCipher(k2[:16])
	if err != nil {
		return nil, err
	}
	return &AESCBC128{block: b}, nil
}

// AppendEncrypt appends IV and ciphertext of plaintext to dst, reading the
// IV from random.
func (c *AESCBC128) AppendEncrypt(dst, plaintext []byte, random io.Reader) ([]byte, error) {
	pad := (16 - (len(plaintext)+1)%16) % 16
	start := len(dst)
	dst = append(dst, make([]byte, 16)...)
	if _, err := io.ReadFull(random, dst[start:start+16]); err != nil {
		return dst[:start], fmt.Errorf("AES-CBC-128 IV: %w", err)
	}
	body := len(dst)
	dst = append(dst, plaintext...)
	for i := 1; i <= pad; i++ {
		dst = append(dst, uint8(i))
	}
	dst = append(dst, uint8(pad))
	cipher.NewCBCEncrypter(c.block, dst[start:start+16]).CryptBlocks(dst[body:], dst[body:])
	return dst, nil
}

// Decrypt decrypts payload (IV || ciphertext) in place and returns the
// plaintext without padding, aliasing payload.
//
// The pad bytes are not required to read 1, 2, 3...: several BMC firmwares
// fill them with zeros, and some pad a whole extra block (pad length 16)
// when the data is already aligned. Both are accepted; only a pad length
// longer than the decrypted data is an error.
func (c *AESCBC128) Decrypt(payload []byte) ([]byte, error) {
	if len(payload) < 32 || len(payload)%16 != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not IV plus whole blocks", ErrDecrypt, len(payload))
	}
	data := payload[16:]
	cipher.NewCBCDecrypter(c.block, payload[:16]).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad+1 > len(data) {
		return nil, fmt.Errorf("%w: pad length %d in %d bytes", ErrDecrypt, pad, len(data))
	}
	return data[:len(data)-1-pad], nil
}
