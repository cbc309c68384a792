package command_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestGetWatchdogTimer(t *testing.T) {
	fresh := func() codec { return &command.GetWatchdogTimerResponse{} }
	runVectors(t, []vectorCase{
		{
			// A BMC after power-on: timer use SMS/OS, stopped, logging,
			// no action, nothing expired, countdowns zero.
			name: "stopped sms/os", vector: "04 00 00 00 00 00 00 00", fresh: fresh, canonical: true,
			want: &command.GetWatchdogTimerResponse{WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseSMSOS}},
		},
		{
			// bmc-watchdog --set -u 4 -a 1 -i 2 -p 10 -t 300 then --start:
			// running, hard reset, NMI 10 s before, 300.0 s initial,
			// 287.5 s left; the OS load flag set from an earlier timeout.
			name: "running hard reset nmi", vector: "44 21 0a 08 b8 0b 3b 0b", fresh: fresh, canonical: true,
			want: &command.GetWatchdogTimerResponse{
				WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseSMSOS, Action: command.WatchdogActionHardReset,
					Interrupt: command.WatchdogInterruptNMI, PretimeoutInterval: 10, InitialCountdown: 3000},
				Running: true, Expired: 0x08, PresentCountdown: 2875,
			},
		},
		{
			name: "don't log, power cycle, messaging, every flag", vector: "85 33 ff 3e ff ff 01 00", fresh: fresh, canonical: true,
			want: &command.GetWatchdogTimerResponse{
				WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseOEM, DontLog: true,
					Action: command.WatchdogActionPowerCycle, Interrupt: command.WatchdogInterruptMessaging,
					PretimeoutInterval: 255, InitialCountdown: 0xffff},
				Expired: 0x3e, PresentCountdown: 1,
			},
		},
		{
			// Reserved bits (byte 1 bits 5:3, byte 2 bits 7 and 3, byte 4
			// bits 7:6 and 0) are ignored; a ninth byte too.
			name: "reserved bits and trailing byte", vector: "3a 88 00 c1 00 00 00 00 99", fresh: fresh,
			want: &command.GetWatchdogTimerResponse{WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseBIOSPOST}},
		},
		{
			// ipmi_sim 2.0.33 leaves the present countdown out.
			name: "ipmi_sim: no present countdown", vector: "04 00 00 00 58 02", fresh: fresh, canonical: true,
			want: &command.GetWatchdogTimerResponse{WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseSMSOS,
				InitialCountdown: 600}, NoPresentCountdown: true},
		},
	})
	runShort(t, "get watchdog timer", "04 00 00 00 00 00 00 00", 6, fresh)
}

func TestSetWatchdogTimer(t *testing.T) {
	fresh := func() codec { return &command.SetWatchdogTimerRequest{} }
	runVectors(t, []vectorCase{
		{name: "start sms/os power down 60s", vector: "44 02 00 10 58 02", fresh: fresh, canonical: true,
			want: &command.SetWatchdogTimerRequest{
				WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseSMSOS, Action: command.WatchdogActionPowerDown, InitialCountdown: 600},
				DontStop:       true, ClearExpired: 0x10,
			}},
		{name: "stop, don't log", vector: "81 00 00 00 00 00", fresh: fresh, canonical: true,
			want: &command.SetWatchdogTimerRequest{WatchdogConfig: command.WatchdogConfig{Use: command.WatchdogUseBIOSFRB2, DontLog: true}}},
		{name: "responses", vector: "", fresh: func() codec { return &command.SetWatchdogTimerResponse{} },
			want: &command.SetWatchdogTimerResponse{}, canonical: true},
		{name: "reset request", vector: "", fresh: func() codec { return &command.ResetWatchdogTimerRequest{} },
			want: &command.ResetWatchdogTimerRequest{}, canonical: true},
	})
	runShort(t, "set watchdog timer", "44 02 00 10 58 02", 6, fresh)
}

func TestWatchdogNames(t *testing.T) {
	// FreeIPMI bmc-watchdog's strings: ipmi_exporter's label values.
	uses := map[command.WatchdogTimerUse]string{0: "Reserved", 1: "BIOS FRB2", 2: "BIOS POST", 3: "OS LOAD", 4: "SMS/OS", 5: "OEM", 6: "Reserved"}
	for u, want := range uses {
		if got := u.String(); got != want {
			t.Errorf("use %d = %q, want %q", u, got, want)
		}
	}
	actions := map[command.WatchdogTimeoutAction]string{0: "None", 1: "Hard Reset", 2: "Power Down", 3: "Power Cycle", 4: "Reserved"}
	for a, want := range actions {
		if got := a.String(); got != want {
			t.Errorf("action %d = %q, want %q", a, got, want)
		}
	}
	irqs := map[command.WatchdogPretimeoutInterrupt]string{0: "None", 1: "SMI", 2: "NMI / Diagnostic Interrupt", 3: "Messaging Interrupt", 7: "Reserved"}
	for i, want := range irqs {
		if got := i.String(); got != want {
			t.Errorf("interrupt %d = %q, want %q", i, got, want)
		}
	}
	f := command.WatchdogExpirationFlags(0x0a)
	if !f.Expired(command.WatchdogUseBIOSFRB2) || !f.Expired(command.WatchdogUseOSLoad) || f.Expired(command.WatchdogUseSMSOS) || f.Expired(0) {
		t.Errorf("expiration flags 0x0a decoded wrong")
	}
}

func TestFRUCommands(t *testing.T) {
	runVectors(t, []vectorCase{
		{name: "area info request", vector: "03", fresh: func() codec { return &command.GetFRUInventoryAreaInfoRequest{} },
			want: &command.GetFRUInventoryAreaInfoRequest{DeviceID: 3}, canonical: true},
		{
			// ipmi_sim, "mc_add_fru_data 0x20 0 256 data ...": 256 bytes,
			// byte access.
			name: "area info 256 bytes", vector: "00 01 00", fresh: func() codec { return &command.GetFRUInventoryAreaInfoResponse{} },
			want: &command.GetFRUInventoryAreaInfoResponse{Size: 256}, canonical: true,
		},
		{name: "area info words, reserved bits", vector: "00 10 ff", fresh: func() codec { return &command.GetFRUInventoryAreaInfoResponse{} },
			want: &command.GetFRUInventoryAreaInfoResponse{Size: 4096, WordAccess: true}},
		{name: "read request", vector: "01 08 01 10", fresh: func() codec { return &command.ReadFRUDataRequest{} },
			want: &command.ReadFRUDataRequest{DeviceID: 1, Offset: 0x108, Count: 16}, canonical: true},
		{name: "read response", vector: "04 01 00 00 01", fresh: func() codec { return &command.ReadFRUDataResponse{} },
			want: &command.ReadFRUDataResponse{Count: 4, Data: []byte{1, 0, 0, 1}}, canonical: true},
		{name: "read response empty", vector: "00", fresh: func() codec { return &command.ReadFRUDataResponse{} },
			want: &command.ReadFRUDataResponse{}, canonical: true},
		{name: "read response padded", vector: "02 aa bb cc", fresh: func() codec { return &command.ReadFRUDataResponse{} },
			want: &command.ReadFRUDataResponse{Count: 2, Data: []byte{0xaa, 0xbb, 0xcc}}, canonical: true},
	})
	runShort(t, "area info request", "03", 1, func() codec { return &command.GetFRUInventoryAreaInfoRequest{} })
	runShort(t, "area info", "00 01 00", 3, func() codec { return &command.GetFRUInventoryAreaInfoResponse{} })
	runShort(t, "read request", "01 08 01 10", 4, func() codec { return &command.ReadFRUDataRequest{} })
	runShort(t, "read response", "04", 1, func() codec { return &command.ReadFRUDataResponse{} })
	// The count covers bytes, or words on a word-addressed device; more
	// bytes than it covers are padding, fewer are short.
	for _, tc := range []struct {
		vector string
		words  bool
		want   string
		short  bool
	}{
		{"02 aa bb cc", false, "aa bb", false},
		{"02 aa bb cc dd", true, "aa bb cc dd", false},
		{"02 aa bb cc", true, "", true},
		{"04 01 00", false, "", true},
		{"00", true, "", false},
	} {
		var r command.ReadFRUDataResponse
		if err := r.Unmarshal(hexBytes(t, tc.vector)); err != nil {
			t.Fatal(err)
		}
		got, err := r.Bytes(tc.words)
		if tc.short {
			if !errors.Is(err, wire.ErrShort) {
				t.Errorf("%s words=%v: err %v, want ErrShort", tc.vector, tc.words, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, hexBytes(t, tc.want)) {
			t.Errorf("%s words=%v: % x %v, want %s", tc.vector, tc.words, got, err, tc.want)
		}
	}
	if r := command.NewReadFRUDataResponse([]byte{1, 2, 3}, true); r.Count != 1 || len(r.Data) != 2 {
		t.Errorf("word response of 3 bytes: %+v", r)
	}
	if r := command.NewReadFRUDataResponse(make([]byte, 300), false); r.Count != 255 || len(r.Data) != 255 {
		t.Errorf("byte response of 300 bytes: count %d len %d", r.Count, len(r.Data))
	}
}

func TestSupermicroLANMode(t *testing.T) {
	get := func() codec { return &command.GetSupermicroLANModeResponse{} }
	runVectors(t, []vectorCase{
		{name: "get request", vector: "0c 00", fresh: func() codec { return &command.GetSupermicroLANModeRequest{} },
			want: &command.GetSupermicroLANModeRequest{}, canonical: true},
		{name: "set request failover", vector: "0c 01 02", fresh: func() codec { return &command.SetSupermicroLANModeRequest{} },
			want: &command.SetSupermicroLANModeRequest{Mode: command.SupermicroLANFailover}, canonical: true},
		// X10/X11: the mode alone (ipmi_exporter issue 47: "rcvd: 70 00 01",
		// cmd and completion code first).
		{name: "dedicated", vector: "00", fresh: get, canonical: true, want: &command.GetSupermicroLANModeResponse{}},
		{name: "shared", vector: "01", fresh: get, canonical: true, want: &command.GetSupermicroLANModeResponse{Mode: command.SupermicroLANShared}},
		// Boards that pad the reply (ipmi_exporter issue 139's "unexpected
		// number of octets"): the mode is the first byte.
		{name: "failover with trailing bytes", vector: "02 00 00", fresh: get, canonical: true,
			want: &command.GetSupermicroLANModeResponse{Mode: command.SupermicroLANFailover, Extra: 2}},
	})
	runShort(t, "lan mode", "00", 1, get)
	runShort(t, "lan mode get request", "0c 00", 2, func() codec { return &command.GetSupermicroLANModeRequest{} })
	if err := (&command.GetSupermicroLANModeRequest{}).Unmarshal([]byte{0x0c, 0x01}); err == nil {
		t.Error("a set sub-function decoded as a get")
	}
	if !command.IsSupermicroLANModeGet([]byte{0x0c, 0}) || command.IsSupermicroLANModeGet([]byte{0x0c, 1, 0}) ||
		!command.IsSupermicroLANModeSet([]byte{0x0c, 1, 0}) || command.IsSupermicroLANModeSet([]byte{0x0d, 1, 0}) {
		t.Error("sub-function dispatch")
	}
	for m, want := range map[command.SupermicroLANMode]string{0: "dedicated", 1: "shared", 2: "failover", 3: "unknown"} {
		if got := m.String(); got != want {
			t.Errorf("mode %d = %q, want %q", m, got, want)
		}
	}
}

// FuzzWatchdogFRUOEMMessages feeds the watchdog, FRU and Supermicro
// decoders; the first byte picks one.
func FuzzWatchdogFRUOEMMessages(f *testing.F) {
	decoders := []func() codec{
		func() codec { return &command.GetWatchdogTimerResponse{} },
		func() codec { return &command.SetWatchdogTimerRequest{} },
		func() codec { return &command.GetFRUInventoryAreaInfoRequest{} },
		func() codec { return &command.GetFRUInventoryAreaInfoResponse{} },
		func() codec { return &command.ReadFRUDataRequest{} },
		func() codec { return &command.ReadFRUDataResponse{} },
		func() codec { return &command.GetSupermicroLANModeRequest{} },
		func() codec { return &command.GetSupermicroLANModeResponse{} },
		func() codec { return &command.SetSupermicroLANModeRequest{} },
	}
	f.Add([]byte{0, 0x44, 0x21, 0x0a, 0x08, 0xb8, 0x0b, 0x3b, 0x0b})
	f.Add([]byte{5, 0x04, 1, 2, 3, 4})
	f.Add([]byte{7, 0x02, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		roundTrip(t, data[1:], decoders[int(data[0])%len(decoders)])
	})
}
