package command_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestGetLANConfig(t *testing.T) {
	freshReq := func() codec { return &command.GetLANConfigRequest{} }
	runVectors(t, []vectorCase{
		// "ipmitool raw 0x0c 0x02 0x01 3 0 0" as sent by "lan print 1".
		{name: "ip address", vector: "01 03 00 00", fresh: freshReq, canonical: true,
			want: &command.GetLANConfigRequest{Channel: 1, Parameter: command.LANParamIPAddress}},
		{name: "revision only, selectors", vector: "82 0d 01 02", fresh: freshReq, canonical: true,
			want: &command.GetLANConfigRequest{Channel: 2, RevisionOnly: true,
				Parameter: command.LANParamDefaultGatewayMAC, SetSelector: 1, BlockSelector: 2}},
	})
	runShort(t, "lan config request", "01 03 00 00", 4, freshReq)

	fresh := func() codec { return &command.GetLANConfigResponse{} }
	runVectors(t, []vectorCase{
		// ipmi_sim answers every supported parameter with revision 11h.
		{name: "ipmi_sim ip address", vector: "11 00 00 00 00", fresh: fresh, canonical: true,
			want: &command.GetLANConfigResponse{Revision: command.LANConfigRevision, Data: []byte{0, 0, 0, 0}}},
		{name: "revision only", vector: "11", fresh: fresh, canonical: true,
			want: &command.GetLANConfigResponse{Revision: 0x11}},
	})
	runShort(t, "lan config response", "11", 1, fresh)
}

func lanResponse(t *testing.T, vector string) *command.GetLANConfigResponse {
	t.Helper()
	var r command.GetLANConfigResponse
	if err := r.Unmarshal(hexBytes(t, vector)); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestLANParameterDecoders(t *testing.T) {
	ip, err := lanResponse(t, "11 c0 a8 00 78").AsIPv4()
	if err != nil || ip != netip.MustParseAddr("192.168.0.120") {
		t.Errorf("AsIPv4 = %v, %v", ip, err)
	}
	mask, err := lanResponse(t, "11 ff ff fe 00").AsIPv4()
	if err != nil || mask != netip.MustParseAddr("255.255.254.0") {
		t.Errorf("AsIPv4 (mask) = %v, %v", mask, err)
	}
	mac, err := lanResponse(t, "11 00 25 90 ab cd ef").AsMAC()
	if err != nil || mac.String() != "00:25:90:ab:cd:ef" {
		t.Errorf("AsMAC = %v, %v", mac, err)
	}
	for vector, want := range map[string]command.LANIPAddressSource{
		"11 00": command.LANIPSourceUnspecified, "11 01": command.LANIPSourceStatic,
		"11 02": command.LANIPSourceDHCP, "11 f3": command.LANIPSourceBIOS, "11 04": command.LANIPSourceOther,
	} {
		got, err := lanResponse(t, vector).AsIPAddressSource()
		if err != nil || got != want {
			t.Errorf("AsIPAddressSource(%s) = %v, %v; want %v", vector, got, err, want)
		}
	}
	if got := command.LANIPSourceDHCP.String(); got != "dhcp" {
		t.Errorf("String = %q", got)
	}
	if got := command.LANIPAddressSource(9).String(); got != "ip_source_0x09" {
		t.Errorf("String = %q", got)
	}

	short := lanResponse(t, "11 c0 a8 00")
	if _, err := short.AsIPv4(); !errors.Is(err, wire.ErrShort) {
		t.Errorf("3-byte address: err = %v", err)
	}
	if _, err := lanResponse(t, "11 00 25 90 ab cd").AsMAC(); !errors.Is(err, wire.ErrShort) {
		t.Errorf("5-byte MAC: err = %v", err)
	}
	if _, err := lanResponse(t, "11").AsIPAddressSource(); !errors.Is(err, wire.ErrShort) {
		t.Errorf("no source byte: err = %v", err)
	}
}

// FuzzLANMessages feeds the LAN decoders and the parameter decoders.
func FuzzLANMessages(f *testing.F) {
	f.Add([]byte{0, 0x01, 0x03, 0x00, 0x00})
	f.Add([]byte{1, 0x11, 0xc0, 0xa8, 0x00, 0x78, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if data[0]%2 == 0 {
			roundTrip(t, data[1:], func() codec { return &command.GetLANConfigRequest{} })
			return
		}
		roundTrip(t, data[1:], func() codec { return &command.GetLANConfigResponse{} })
		var r command.GetLANConfigResponse
		if r.Unmarshal(data[1:]) != nil {
			return
		}
		if _, err := r.AsIPv4(); err != nil && !errors.Is(err, wire.ErrShort) {
			t.Fatal(err)
		}
		if _, err := r.AsMAC(); err != nil && !errors.Is(err, wire.ErrShort) {
			t.Fatal(err)
		}
		if _, err := r.AsIPAddressSource(); err != nil && !errors.Is(err, wire.ErrShort) {
			t.Fatal(err)
		}
	})
}
