package command_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// From "ipmitool -I lanplus -t 0x30 -b 0 raw 0x06 0x01" against ipmi_sim
// with a second controller at 0x30 (ipmitool -vvvvv packet dumps):
const (
	// The Send Message data ipmitool sent (sequence number 6).
	ipmitoolSendMessageData = "40 30 18 b8 81 18 01 66"
	// The bridged response ipmi_sim delivered as a separate LAN message
	// after an empty Send Message response.
	ipmiSimBridgedResponse = "20 1c c4 30 18 01 00 00 04 09 08 02 9f 91 12 00 03 0f 00 00 00 00 4c"
)

func TestAppendBridgedRequest(t *testing.T) {
	got := command.AppendBridgedRequest(nil, wire.Target{Channel: 0, Addr: 0x30}, 6, wire.NetFnApp, 0x01, nil)
	if want := hexBytes(t, ipmitoolSendMessageData); !bytes.Equal(got, want) {
		t.Fatalf("AppendBridgedRequest = %x, want %x (ipmitool)", got, want)
	}
	got = command.AppendBridgedRequest([]byte{0xee}, wire.Target{Channel: 7, Addr: 0x82, LUN: 2}, 0x3f,
		wire.NetFnSensorEvent, 0x2d, []byte{0x31})
	var req command.SendMessageRequest
	if got[0] != 0xee {
		t.Fatalf("prefix clobbered: %x", got)
	}
	if err := req.Unmarshal(got[1:]); err != nil {
		t.Fatal(err)
	}
	if req.Channel != 7 || req.Tracking != command.SendMessageTrackRequest || req.Authenticated || req.Encrypted {
		t.Fatalf("send message header %+v", req)
	}
	var ipmb command.IPMBRequest
	if err := ipmb.Unmarshal(req.Message); err != nil {
		t.Fatal(err)
	}
	want := command.IPMBRequest{RsAddr: 0x82, NetFn: wire.NetFnSensorEvent, RsLUN: 2, RqAddr: wire.RemoteConsoleSWID,
		RqSeq: 0x3f, Cmd: 0x2d, Data: []byte{0x31}}
	if !reflect.DeepEqual(ipmb, want) {
		t.Fatalf("inner request %+v, want %+v", ipmb, want)
	}
}

func TestSendMessage(t *testing.T) {
	fresh := func() codec { return &command.SendMessageRequest{} }
	runVectors(t, []vectorCase{
		{name: "ipmitool bridged", vector: ipmitoolSendMessageData, fresh: fresh, canonical: true,
			want: &command.SendMessageRequest{Tracking: command.SendMessageTrackRequest,
				Message: hexBytes(t, "30 18 b8 81 18 01 66")}},
		{name: "raw, auth, encrypted, channel 15", vector: "bf 01", fresh: fresh, canonical: true,
			want: &command.SendMessageRequest{Channel: 15, Tracking: command.SendMessageRaw,
				Authenticated: true, Encrypted: true, Message: []byte{1}}},
	})
	runShort(t, "send message request", "40", 1, fresh)
	if err := fresh().Unmarshal([]byte{0xc0, 0x00}); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("tracking 3: err = %v", err)
	}

	// ipmi_sim: empty Send Message response, response comes separately.
	var empty command.SendMessageResponse
	if err := empty.Unmarshal(nil); err != nil {
		t.Fatal(err)
	}
	var inner command.IPMBResponse
	if ok, err := empty.BridgedResponse(&inner); ok || err != nil {
		t.Fatalf("empty response: ok=%v err=%v", ok, err)
	}

	// Embedded form: the Send Message response data is the IPMB response.
	var embedded command.SendMessageResponse
	if err := embedded.Unmarshal(hexBytes(t, ipmiSimBridgedResponse)); err != nil {
		t.Fatal(err)
	}
	if ok, err := embedded.BridgedResponse(&inner); !ok || err != nil {
		t.Fatalf("embedded response: ok=%v err=%v", ok, err)
	}
	if inner.Cmd != 0x01 || inner.RsAddr != 0x30 || inner.Code != wire.CCOK {
		t.Fatalf("embedded response %+v", inner)
	}
	var devid command.GetDeviceIDResponse
	if err := devid.Unmarshal(inner.Data); err != nil || devid.ProductID != 0x0f03 || devid.DeviceRevision != 4 {
		t.Fatalf("bridged device id %+v, %v", devid, err)
	}
	if enc := embedded.AppendTo(nil); !bytes.Equal(enc, hexBytes(t, ipmiSimBridgedResponse)) {
		t.Fatalf("AppendTo = %x", enc)
	}

	corrupt := hexBytes(t, ipmiSimBridgedResponse)
	corrupt[len(corrupt)-1]++
	if err := embedded.Unmarshal(corrupt); err != nil {
		t.Fatal(err)
	}
	if ok, err := embedded.BridgedResponse(&inner); ok || !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, wire.ErrChecksum) {
		t.Fatalf("corrupt embedded response: ok=%v err=%v", ok, err)
	}
}

func TestIPMBMessages(t *testing.T) {
	runVectors(t, []vectorCase{
		{
			name: "ipmitool inner request", vector: "30 18 b8 81 18 01 66", canonical: true,
			fresh: func() codec { return &command.IPMBRequest{} },
			want:  &command.IPMBRequest{RsAddr: 0x30, NetFn: wire.NetFnApp, RqAddr: 0x81, RqSeq: 6, Cmd: 0x01},
		},
		{
			name: "ipmi_sim bridged response", vector: ipmiSimBridgedResponse, canonical: true,
			fresh: func() codec { return &command.IPMBResponse{} },
			want: &command.IPMBResponse{RqAddr: 0x20, NetFn: wire.NetFnApp.Response(), RsAddr: 0x30, RqSeq: 6,
				Cmd: 0x01, Code: wire.CCOK, Data: hexBytes(t, "00 04 09 08 02 9f 91 12 00 03 0f 00 00 00 00")},
		},
		{
			name: "error response with luns", vector: "81 1e 61 30 1b 23 cb c7", canonical: true,
			fresh: func() codec { return &command.IPMBResponse{} },
			want: &command.IPMBResponse{RqAddr: 0x81, NetFn: wire.NetFnApp.Response(), RqLUN: 2, RsAddr: 0x30,
				RqSeq: 6, RsLUN: 3, Cmd: 0x23, Code: wire.CCRequestedDataNotPresent},
		},
	})
	runShort(t, "ipmb request", "30 18 b8 81 18 01 66", 7, func() codec { return &command.IPMBRequest{} })
	runShort(t, "ipmb response", ipmiSimBridgedResponse, 7, func() codec { return &command.IPMBResponse{} })

	for _, tc := range []struct {
		name, vector string
		fresh        func() codec
		want         []error
	}{
		{"header checksum", "30 18 b9 81 18 01 66", func() codec { return &command.IPMBRequest{} },
			[]error{wire.ErrMalformed, wire.ErrChecksum}},
		{"data checksum", "30 18 b8 81 18 01 67", func() codec { return &command.IPMBRequest{} },
			[]error{wire.ErrMalformed, wire.ErrChecksum}},
		{"request with response netfn", "30 1c b4 81 18 01 66", func() codec { return &command.IPMBRequest{} },
			[]error{wire.ErrMalformed}},
		{"response with request netfn", "20 18 c8 30 18 01 00 b7", func() codec { return &command.IPMBResponse{} },
			[]error{wire.ErrMalformed}},
		{"response without completion code", "20 1c c4 30 18 01 b7", func() codec { return &command.IPMBResponse{} },
			[]error{wire.ErrShort}},
	} {
		err := tc.fresh().Unmarshal(hexBytes(t, tc.vector))
		for _, want := range tc.want {
			if !errors.Is(err, want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, want)
			}
		}
	}
}

func TestGetMessage(t *testing.T) {
	fresh := func() codec { return &command.GetMessageResponse{} }
	runVectors(t, []vectorCase{
		{name: "ipmb message, user privilege", vector: "20 " + ipmiSimBridgedResponse, fresh: fresh, canonical: true,
			want: &command.GetMessageResponse{Channel: 0, InferredPrivilege: wire.PrivilegeUser,
				Data: hexBytes(t, ipmiSimBridgedResponse)}},
		{name: "channel only", vector: "07", fresh: fresh, canonical: true,
			want: &command.GetMessageResponse{Channel: 7}},
	})
	runShort(t, "get message response", "07", 1, fresh)
}

// FuzzBridgeMessages feeds the Send/Get Message decoders; the first byte
// picks one.
func FuzzBridgeMessages(f *testing.F) {
	decoders := []func() codec{
		func() codec { return &command.SendMessageRequest{} },
		func() codec { return &command.SendMessageResponse{} },
		func() codec { return &command.GetMessageResponse{} },
	}
	f.Add(append([]byte{0}, hexBytes(f, ipmitoolSendMessageData)...))
	f.Add(append([]byte{1}, hexBytes(f, ipmiSimBridgedResponse)...))
	f.Add(append([]byte{2, 0x20}, hexBytes(f, ipmiSimBridgedResponse)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		roundTrip(t, data[1:], decoders[int(data[0])%len(decoders)])
		var r command.SendMessageResponse
		if err := r.Unmarshal(data[1:]); err != nil {
			t.Fatal(err)
		}
		var inner command.IPMBResponse
		if _, err := r.BridgedResponse(&inner); err != nil &&
			!errors.Is(err, wire.ErrShort) && !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// FuzzIPMBMessage checks the IPMB parsers: no panics, typed errors, and
// whatever parses re-encodes to exactly the input, since every bit of an
// IPMB message is a field (there are no reserved bits to normalize).
func FuzzIPMBMessage(f *testing.F) {
	f.Add(hexBytes(f, "30 18 b8 81 18 01 66"))
	f.Add(hexBytes(f, ipmiSimBridgedResponse))
	f.Add(hexBytes(f, "81 1e 61 30 1b 23 cb c7"))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, func() codec { return &command.IPMBRequest{} })
		roundTrip(t, data, func() codec { return &command.IPMBResponse{} })
		var req command.IPMBRequest
		if req.Unmarshal(data) == nil {
			if enc := req.AppendTo(nil); !bytes.Equal(enc, data) {
				t.Fatalf("request %x re-encodes as %x", data, enc)
			}
		}
		var resp command.IPMBResponse
		if resp.Unmarshal(data) == nil {
			if enc := resp.AppendTo(nil); !bytes.Equal(enc, data) {
				t.Fatalf("response %x re-encodes as %x", data, enc)
			}
		}
	})
}
