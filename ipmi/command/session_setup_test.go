package command_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestGetChannelAuthCapabilities(t *testing.T) {
	freshReq := func() codec { return &command.GetChannelAuthCapabilitiesRequest{} }
	runVectors(t, []vectorCase{
		{
			// What ipmitool -I lanplus sends first (seen with -vvvvv).
			name: "ipmitool lanplus", vector: "8e 04", fresh: freshReq, canonical: true,
			want: &command.GetChannelAuthCapabilitiesRequest{Channel: wire.ChannelPresentIface,
				ExtendedData: true, MaxPrivilege: wire.PrivilegeAdmin},
		},
		{
			name: "ipmi 1.5 form", vector: "0e 02", fresh: freshReq, canonical: true,
			want: &command.GetChannelAuthCapabilitiesRequest{Channel: 0x0e, MaxPrivilege: wire.PrivilegeUser},
		},
	})
	runShort(t, "auth caps request", "8e 04", 2, freshReq)

	fresh := func() codec { return &command.GetChannelAuthCapabilitiesResponse{} }
	runVectors(t, []vectorCase{
		{
			// ipmi_sim's answer to "8e 04" (from an ipmitool -vvvvv trace).
			name: "ipmi_sim", vector: "01 97 06 03 00 00 00 00", fresh: fresh, canonical: true,
			want: &command.GetChannelAuthCapabilitiesResponse{
				Channel: 1, ExtendedCapabilities: true, AuthTypes: 0x17,
				NonNullUserNames: true, NullUserNames: true, SupportsIPMIv15: true, SupportsIPMIv20: true,
			},
		},
		{
			name: "all flags and oem", vector: "0e 25 3f 02 57 01 00 aa", fresh: fresh, canonical: true,
			want: &command.GetChannelAuthCapabilitiesResponse{
				Channel: 0x0e, AuthTypes: 0x25, KGNonZero: true, PerMessageAuthDisabled: true,
				UserLevelAuthDisabled: true, NonNullUserNames: true, NullUserNames: true, AnonymousLogin: true,
				SupportsIPMIv20: true, OEMID: 343, OEMAuxData: 0xaa,
			},
		},
	})
	runVectors(t, []vectorCase{{
		// Without the OEM auxiliary data byte, as some simulators send it.
		name: "7 bytes", vector: "01 97 06 03 00 00 00", fresh: fresh,
		want: &command.GetChannelAuthCapabilitiesResponse{
			Channel: 1, ExtendedCapabilities: true, AuthTypes: 0x17,
			NonNullUserNames: true, NullUserNames: true, SupportsIPMIv15: true, SupportsIPMIv20: true,
		},
	}})
	runShort(t, "auth caps response", "01 97 06 03 00 00 00 00", 7, fresh)

	s := command.AuthTypeSupport(0x17)
	for a, want := range map[wire.AuthType]bool{
		wire.AuthTypeNone: true, wire.AuthTypeMD2: true, wire.AuthTypeMD5: true, wire.AuthTypeStraight: true,
		wire.AuthTypeOEM: false, wire.AuthTypeRMCPPlus: false, 3: false,
	} {
		if got := s.Supports(a); got != want {
			t.Errorf("AuthTypeSupport(0x17).Supports(%v) = %v, want %v", a, got, want)
		}
	}
	if !command.AuthTypeSupport(0x20).Supports(wire.AuthTypeOEM) {
		t.Error("bit 5 should mean OEM")
	}
}

// ipmiSimCipherBlocks are ipmi_sim's answers to Get Channel Cipher Suites
// with "list by cipher suite" for list indexes 0-4 (channel byte first).
var ipmiSimCipherBlocks = []string{
	"01 c0 00 00 40 80 c0 01 01 40 80 c0 02 01 41 80 c0",
	"01 03 01 41 81 c0 04 01 41 82 c0 05 01 41 83 c0 06",
	"01 02 40 80 c0 07 02 42 80 c0 08 02 42 81 c0 09 02",
	"01 42 82 c0 0a 02 42 83 c0 0b 02 43 80 c0 0c 02 43",
	"01 81 c0 0d 02 43 82 c0 0e 02 43 83",
}

func TestGetChannelCipherSuites(t *testing.T) {
	freshReq := func() codec { return &command.GetChannelCipherSuitesRequest{} }
	runVectors(t, []vectorCase{
		{
			name: "by suite, index 1", vector: "0e 00 81", fresh: freshReq, canonical: true,
			want: &command.GetChannelCipherSuitesRequest{Channel: 0x0e, ListIndex: 1, ListByCipherSuite: true},
		},
		{
			name: "algorithms, sol payload", vector: "01 01 3f", fresh: freshReq, canonical: true,
			want: &command.GetChannelCipherSuitesRequest{Channel: 1, PayloadType: 1, ListIndex: 0x3f},
		},
	})
	runShort(t, "cipher suites request", "0e 00 81", 3, freshReq)

	fresh := func() codec { return &command.GetChannelCipherSuitesResponse{} }
	runVectors(t, []vectorCase{
		{
			name: "full block", vector: ipmiSimCipherBlocks[0], fresh: fresh, canonical: true,
			want: &command.GetChannelCipherSuitesResponse{Channel: 1,
				RecordData: hexBytes(t, "c0 00 00 40 80 c0 01 01 40 80 c0 02 01 41 80 c0")},
		},
		{
			name: "empty last block", vector: "01", fresh: fresh, canonical: true,
			want: &command.GetChannelCipherSuitesResponse{Channel: 1},
		},
	})
	runShort(t, "cipher suites response", "01", 1, fresh)
}

func TestParseCipherSuiteRecordsIPMISim(t *testing.T) {
	var data []byte
	for _, b := range ipmiSimCipherBlocks {
		var r command.GetChannelCipherSuitesResponse
		if err := r.Unmarshal(hexBytes(t, b)); err != nil {
			t.Fatal(err)
		}
		data = append(data, r.RecordData...)
	}
	got, err := command.ParseCipherSuiteRecords(data)
	if err != nil {
		t.Fatal(err)
	}
	// ipmitool "channel getciphers ipmi" lists the first twelve of these
	// identically (auth, integrity, confidentiality).
	want := [][3]uint8{
		{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {1, 1, 1}, {1, 1, 2}, {1, 1, 3}, {2, 0, 0}, {2, 2, 0},
		{2, 2, 1}, {2, 2, 2}, {2, 2, 3}, {2, 3, 0}, {2, 3, 1}, {2, 3, 2}, {2, 3, 3},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if int(r.ID) != i || r.OEM || r.AuthAlg != w[0] ||
			!reflect.DeepEqual(r.IntegrityAlgs, []uint8{w[1]}) || !reflect.DeepEqual(r.ConfidentialityAlgs, []uint8{w[2]}) {
			t.Errorf("record %d = %+v, want id %d algs %v", i, r, i, w)
		}
	}
	// Re-encoding the parsed records gives the BMC's bytes back.
	var enc []byte
	for i := range got {
		enc = command.AppendCipherSuiteRecord(enc, &got[i])
	}
	if !reflect.DeepEqual(enc, data) {
		t.Errorf("re-encoded\n%x\nwant\n%x", enc, data)
	}
}

func TestParseCipherSuiteRecords(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []command.CipherSuiteRecord
		err        error
	}{
		{name: "empty", data: "", want: nil},
		{
			name: "oem record", data: "c1 80 57 01 00 01 41 81",
			want: []command.CipherSuiteRecord{{ID: 0x80, OEM: true, OEMIANA: 343, AuthAlg: 1,
				IntegrityAlgs: []uint8{1}, ConfidentialityAlgs: []uint8{1}}},
		},
		{
			name: "several integrity algorithms, any order", data: "c0 11 03 84 44 41",
			want: []command.CipherSuiteRecord{{ID: 0x11, AuthAlg: 3,
				IntegrityAlgs: []uint8{4, 1}, ConfidentialityAlgs: []uint8{4}}},
		},
		{
			name: "standard then oem", data: "c0 03 01 41 81 c1 c0 00 00 00 00",
			want: []command.CipherSuiteRecord{
				{ID: 3, AuthAlg: 1, IntegrityAlgs: []uint8{1}, ConfidentialityAlgs: []uint8{1}},
				{ID: 0xc0, OEM: true, AuthAlg: 0},
			},
		},
		{name: "no start byte", data: "00 01 40", err: wire.ErrMalformed},
		{name: "reserved start byte", data: "c2 00 00", err: wire.ErrMalformed},
		{name: "start only", data: "c0", err: wire.ErrShort},
		{name: "oem iana cut", data: "c1 05 57 01", err: wire.ErrShort},
		{name: "no auth algorithm", data: "c0 01 40 80", err: wire.ErrMalformed},
		{name: "record ends at next start", data: "c0 01 c0 02 00", err: wire.ErrMalformed},
		{name: "two auth algorithms", data: "c0 01 01 02 40", err: wire.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := command.ParseCipherSuiteRecords(hexBytes(t, tc.data))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSupportedAlgorithms(t *testing.T) {
	// ipmi_sim's answer to list index 0 without "list by cipher suite".
	got, err := command.ParseSupportedAlgorithms(hexBytes(t, "00 01 02 40 41 42 43 80 81 82 83"))
	if err != nil {
		t.Fatal(err)
	}
	want := command.SupportedAlgorithms{
		Auth: []uint8{0, 1, 2}, Integrity: []uint8{0, 1, 2, 3}, Confidentiality: []uint8{0, 1, 2, 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := command.ParseSupportedAlgorithms(hexBytes(t, "00 c0")); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("start byte in algorithm list: err = %v", err)
	}
}

func TestSessionPrivilegeAndClose(t *testing.T) {
	runVectors(t, []vectorCase{
		{name: "set priv request", vector: "04", fresh: func() codec { return &command.SetSessionPrivilegeLevelRequest{} },
			want: &command.SetSessionPrivilegeLevelRequest{Privilege: wire.PrivilegeAdmin}, canonical: true},
		{name: "query priv request", vector: "00", fresh: func() codec { return &command.SetSessionPrivilegeLevelRequest{} },
			want: &command.SetSessionPrivilegeLevelRequest{}, canonical: true},
		{name: "set priv response (ipmi_sim)", vector: "04",
			fresh: func() codec { return &command.SetSessionPrivilegeLevelResponse{} },
			want:  &command.SetSessionPrivilegeLevelResponse{Privilege: wire.PrivilegeAdmin}, canonical: true},
		{name: "close by id (ipmitool trace)", vector: "82 00 00 00",
			fresh: func() codec { return &command.CloseSessionRequest{} },
			want:  &command.CloseSessionRequest{SessionID: 0x82}, canonical: true},
		{name: "close by handle", vector: "00 00 00 00 07",
			fresh: func() codec { return &command.CloseSessionRequest{} },
			want:  &command.CloseSessionRequest{SessionHandle: 7}, canonical: true},
		{name: "close response", vector: "", fresh: func() codec { return &command.CloseSessionResponse{} },
			want: &command.CloseSessionResponse{}, canonical: true},
	})
	runShort(t, "set priv request", "04", 1, func() codec { return &command.SetSessionPrivilegeLevelRequest{} })
	runShort(t, "set priv response", "04", 1, func() codec { return &command.SetSessionPrivilegeLevelResponse{} })
	runShort(t, "close by handle", "00 00 00 00 07", 5, func() codec { return &command.CloseSessionRequest{} })
}

func TestSessionChallengeAndActivate(t *testing.T) {
	var challengeReq command.GetSessionChallengeRequest
	challengeReq.AuthType = wire.AuthTypeMD5
	if err := challengeReq.SetUserName("admin"); err != nil {
		t.Fatal(err)
	}
	if err := new(command.GetSessionChallengeRequest).SetUserName("seventeen-chars!!"); err == nil {
		t.Error("17-byte user name accepted")
	}
	challenge := [16]byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}
	runVectors(t, []vectorCase{
		{
			name: "challenge request", vector: "02 61 64 6d 69 6e 00 00 00 00 00 00 00 00 00 00 00",
			fresh: func() codec { return &command.GetSessionChallengeRequest{} }, want: &challengeReq, canonical: true,
		},
		{
			name:   "challenge response",
			vector: "78 56 34 12 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f",
			fresh:  func() codec { return &command.GetSessionChallengeResponse{} }, canonical: true,
			want: &command.GetSessionChallengeResponse{TemporarySessionID: 0x12345678, Challenge: challenge},
		},
		{
			name:   "activate request",
			vector: "02 04 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 01 00 00 00",
			fresh:  func() codec { return &command.ActivateSessionRequest{} }, canonical: true,
			want: &command.ActivateSessionRequest{AuthType: wire.AuthTypeMD5, MaxPrivilege: wire.PrivilegeAdmin,
				Challenge: challenge, InitialOutboundSeq: 1},
		},
		{
			name: "activate response", vector: "02 44 33 22 11 ef be ad de 04",
			fresh: func() codec { return &command.ActivateSessionResponse{} }, canonical: true,
			want: &command.ActivateSessionResponse{AuthType: wire.AuthTypeMD5, SessionID: 0x11223344,
				InitialInboundSeq: 0xdeadbeef, MaxPrivilege: wire.PrivilegeAdmin},
		},
	})
	runShort(t, "challenge request", "02 61 64 6d 69 6e 00 00 00 00 00 00 00 00 00 00 00", 17,
		func() codec { return &command.GetSessionChallengeRequest{} })
	runShort(t, "challenge response", "78 56 34 12 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f", 20,
		func() codec { return &command.GetSessionChallengeResponse{} })
	runShort(t, "activate request", "02 04 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 01 00 00 00", 22,
		func() codec { return &command.ActivateSessionRequest{} })
	runShort(t, "activate response", "02 44 33 22 11 ef be ad de 04", 10,
		func() codec { return &command.ActivateSessionResponse{} })
}

// FuzzSessionSetupMessages feeds every session_setup.go decoder; the first
// byte picks one.
func FuzzSessionSetupMessages(f *testing.F) {
	decoders := []func() codec{
		func() codec { return &command.GetChannelAuthCapabilitiesRequest{} },
		func() codec { return &command.GetChannelAuthCapabilitiesResponse{} },
		func() codec { return &command.GetChannelCipherSuitesRequest{} },
		func() codec { return &command.GetChannelCipherSuitesResponse{} },
		func() codec { return &command.SetSessionPrivilegeLevelRequest{} },
		func() codec { return &command.SetSessionPrivilegeLevelResponse{} },
		func() codec { return &command.CloseSessionRequest{} },
		func() codec { return &command.GetSessionChallengeRequest{} },
		func() codec { return &command.GetSessionChallengeResponse{} },
		func() codec { return &command.ActivateSessionRequest{} },
		func() codec { return &command.ActivateSessionResponse{} },
	}
	for i, seed := range []string{
		"8e 04", "01 97 06 03 00 00 00 00", "0e 00 81", ipmiSimCipherBlocks[1], "04", "04", "00 00 00 00 07",
		"02 61 64 6d 69 6e 00 00 00 00 00 00 00 00 00 00 00",
		"78 56 34 12 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f",
		"02 04 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 01 00 00 00", "02 44 33 22 11 ef be ad de 04",
	} {
		f.Add(append([]byte{byte(i)}, hexBytes(f, seed)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		roundTrip(t, data[1:], decoders[int(data[0])%len(decoders)])
	})
}

// FuzzParseCipherSuiteRecords checks that the parser never panics, that
// its errors are typed, and that parsed records re-encode to input that
// parses the same.
func FuzzParseCipherSuiteRecords(f *testing.F) {
	var all []byte
	for _, b := range ipmiSimCipherBlocks {
		all = append(all, hexBytes(f, b)[1:]...)
	}
	f.Add(all)
	f.Add(hexBytes(f, "c1 80 57 01 00 01 41 81"))
	f.Add(hexBytes(f, "00 01 02 40 41 42 43 80 81 82 83"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := command.ParseSupportedAlgorithms(data); err != nil && !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("ParseSupportedAlgorithms: untyped error %v", err)
		}
		recs, err := command.ParseCipherSuiteRecords(data)
		if err != nil {
			if !errors.Is(err, wire.ErrShort) && !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		var enc []byte
		for i := range recs {
			enc = command.AppendCipherSuiteRecord(enc, &recs[i])
		}
		again, err := command.ParseCipherSuiteRecords(enc)
		if err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("re-parse of %x: %+v, %v; want %+v", enc, again, err, recs)
		}
	})
}
