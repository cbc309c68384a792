package crypto

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// MaxPassword15Length is the longest IPMI v1.5 password.
const MaxPassword15Length = 16

// AuthCode15 computes the IPMI v1.5 session AuthCode (IPMI v2.0 section
// 22.17.1) for a message: for straight password the padded password, for
// MD5 MD5(password, session ID, message, sequence, password). MD2 is not
// implemented (no current BMC requires it); none yields zeros.
func AuthCode15(t wire.AuthType, password []byte, sessionID, seq uint32, msg []byte) ([16]byte, error) {
	var code, pw [16]byte
	copy(pw[:], password)
	switch t {
	case wire.AuthTypeNone:
		return code, nil
	case wire.AuthTypeStraight:
		return pw, nil
	case wire.AuthTypeMD5:
		h := md5.New()
		h.Write(pw[:])
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], sessionID)
		h.Write(n[:])
		h.Write(msg)
		binary.LittleEndian.PutUint32(n[:], seq)
		h.Write(n[:])
		h.Write(pw[:])
		h.Sum(code[:0])
		return code, nil
	}
	return code, fmt.Errorf("IPMI 1.5 auth type %s not supported", t)
}
