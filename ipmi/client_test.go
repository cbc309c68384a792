package ipmi_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// call is one Exchange as the transport saw it.
type call struct {
	target wire.Target
	netFn  wire.NetFn
	cmd    uint8
	data   []byte
}

// answer is what the fake BMC replies.
type answer struct {
	code wire.CompletionCode
	data []byte
	err  error
}

// fakeTransport answers from a handler. Like a real session it returns its
// own reused buffer, so a client that kept a reference would see it change.
type fakeTransport struct {
	handler func(call) answer
	mu      sync.Mutex
	calls   []call
	record  bool
	buf     []byte
	inside  atomic.Int32 // Exchange calls in progress
	overlap atomic.Bool  // two Exchange calls ran at once
	closed  atomic.Int32
}

func (f *fakeTransport) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if f.inside.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.inside.Add(-1)
	c := call{target: target, netFn: netFn, cmd: cmd, data: data}
	if f.record {
		c.data = append([]byte(nil), data...)
		f.mu.Lock()
		f.calls = append(f.calls, c)
		f.mu.Unlock()
	}
	a := f.handler(c)
	if a.err != nil {
		return 0, nil, a.err
	}
	f.buf = append(f.buf[:0], a.data...)
	return a.code, f.buf, nil
}

func (f *fakeTransport) Close(context.Context) error {
	f.closed.Add(1)
	return nil
}

// fixed answers every request with the same answer.
func fixed(a answer) func(call) answer { return func(call) answer { return a } }

const ipmiSimDeviceID = "00 03 09 08 02 9f 91 12 00 02 0f 00 00 00 00"

func TestDoDecodesAndSendsRequest(t *testing.T) {
	ft := &fakeTransport{record: true, handler: fixed(answer{data: hexBytes(t, ipmiSimDeviceID)})}
	c := ipmi.NewClient(ft)
	id, err := c.DeviceID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id.ManufacturerID != 4753 || id.ProductID != 0x0f02 || id.FirmwareRevision() != "9.08" {
		t.Fatalf("DeviceID = %+v", id)
	}
	// The response must not alias the transport's buffer.
	for i := range ft.buf {
		ft.buf[i] = 0xFF
	}
	if id.ManufacturerID != 4753 {
		t.Fatal("response changed with the transport buffer")
	}

	ft.handler = fixed(answer{data: hexBytes(t, "11 c0 a8 00 78")})
	var resp command.GetLANConfigResponse
	req := command.GetLANConfigRequest{Channel: 1, Parameter: command.LANParamIPAddress}
	if err := c.Do(context.Background(), &req, &resp); err != nil {
		t.Fatal(err)
	}
	last := ft.calls[len(ft.calls)-1]
	if last.netFn != wire.NetFnTransport || last.cmd != 0x02 || !bytes.Equal(last.data, hexBytes(t, "01 03 00 00")) || !last.target.IsBMC() {
		t.Fatalf("transport saw %+v", last)
	}
	ft.buf[1] = 0
	if ip, _ := resp.AsIPv4(); ip != netip.MustParseAddr("192.168.0.120") {
		t.Fatalf("response aliases the transport buffer: %v", ip)
	}

	// A nil response ignores the data.
	if err := c.Do(context.Background(), &command.ChassisControlRequest{Action: command.ChassisPowerUp}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDoCompletionCode(t *testing.T) {
	ft := &fakeTransport{handler: fixed(answer{code: wire.CCInvalidCommand})}
	c := ipmi.NewClient(ft)
	_, err := c.DCMIPowerReading(context.Background())
	var ce *wire.CompletionCodeError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a CompletionCodeError", err)
	}
	if ce.NetFn != wire.NetFnGroupExt || ce.Command != command.CmdDCMIGetPowerReading || ce.Code != wire.CCInvalidCommand {
		t.Fatalf("CompletionCodeError = %+v", ce)
	}
	if !wire.IsCompletionCode(err, wire.CCInvalidCommand) {
		t.Fatal("IsCompletionCode false")
	}

	// Bridged: the error names the target and still unwraps.
	err = c.DoTarget(context.Background(), wire.Target{Addr: 0x30}, &command.GetDeviceIDRequest{}, &command.GetDeviceIDResponse{})
	if !wire.IsCompletionCode(err, wire.CCInvalidCommand) || !strings.Contains(err.Error(), "0x30") {
		t.Fatalf("bridged err = %v", err)
	}
}

func TestDoShortReply(t *testing.T) {
	ft := &fakeTransport{handler: fixed(answer{data: hexBytes(t, "00 03 09 08 02")})}
	c := ipmi.NewClient(ft)
	_, err := c.DeviceID(context.Background())
	if !errors.Is(err, wire.ErrShort) {
		t.Fatalf("err = %v, want ErrShort", err)
	}
	if !strings.Contains(err.Error(), "app/0x01") {
		t.Errorf("error %q does not name the command", err)
	}
	// An empty reply to a command with response data is short too.
	ft.handler = fixed(answer{})
	if _, err := c.ChassisStatus(context.Background()); !errors.Is(err, wire.ErrShort) {
		t.Fatalf("empty chassis status: err = %v", err)
	}
	// A DCMI answer whose parameter data is cut short.
	ft.handler = fixed(answer{data: hexBytes(t, "dc 01 05 02 00")})
	if _, err := c.DCMICapabilities(context.Background()); !errors.Is(err, wire.ErrShort) {
		t.Fatalf("short dcmi capabilities: err = %v", err)
	}
}

func TestDoTransportError(t *testing.T) {
	boom := errors.New("no route to BMC")
	ft := &fakeTransport{handler: fixed(answer{err: boom})}
	c := ipmi.NewClient(ft)
	_, err := c.SystemGUID(context.Background())
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "app/0x37") {
		t.Fatalf("err = %v", err)
	}
	err = c.DoTarget(context.Background(), wire.Target{Channel: 7, Addr: 0x82}, &command.GetDeviceIDRequest{}, nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "channel 7 address 0x82") {
		t.Fatalf("bridged err = %v", err)
	}
}

func TestDoTargetPassesTarget(t *testing.T) {
	ft := &fakeTransport{record: true, handler: fixed(answer{data: hexBytes(t, ipmiSimDeviceID)})}
	c := ipmi.NewClient(ft)
	target := wire.Target{Channel: 0, Addr: 0x30, LUN: 0}
	var resp command.GetDeviceIDResponse
	if err := c.DoTarget(context.Background(), target, &command.GetDeviceIDRequest{}, &resp); err != nil {
		t.Fatal(err)
	}
	if got := ft.calls[0].target; got != target {
		t.Fatalf("transport got target %+v", got)
	}
}

func TestConvenienceMethods(t *testing.T) {
	ctx := context.Background()
	answers := map[command.Op]string{
		{NetFn: wire.NetFnApp, Cmd: command.CmdGetSystemGUID}:            "a1 23 45 67 89 ab cd ef a1 23 45 67 89 ab cd ef",
		{NetFn: wire.NetFnChassis, Cmd: command.CmdGetChassisStatus}:     "21 10 40",
		{NetFn: wire.NetFnGroupExt, Cmd: command.CmdDCMIGetPowerReading}: "dc 8c 00 5a 00 f4 01 87 00 a0 5e 5b 65 e8 03 00 00 40",
		{NetFn: wire.NetFnGroupExt, Cmd: command.CmdDCMIGetCapabilities}: "dc 01 05 02 00 01 19",
	}
	ft := &fakeTransport{record: true, handler: func(c call) answer {
		return answer{data: hexBytes(t, answers[command.Op{NetFn: c.netFn, Cmd: c.cmd}])}
	}}
	c := ipmi.NewClient(ft)

	guid, err := c.SystemGUID(ctx)
	if err != nil || guid.String() != "efcdab89-6745-23a1-efcd-ab89674523a1" {
		t.Errorf("SystemGUID = %v, %v", guid, err)
	}
	cs, err := c.ChassisStatus(ctx)
	if err != nil || !cs.PowerOn || cs.RestorePolicy != command.PowerRestorePrevious || !cs.IdentifySupported {
		t.Errorf("ChassisStatus = %+v, %v", cs, err)
	}
	pr, err := c.DCMIPowerReading(ctx)
	if err != nil || pr.CurrentWatts != 140 || !pr.MeasurementActive || pr.StatisticsPeriod() != time.Second {
		t.Errorf("DCMIPowerReading = %+v, %v", pr, err)
	}
	caps, err := c.DCMICapabilities(ctx)
	if err != nil || caps.MajorVersion != 1 || caps.MinorVersion != 5 || !caps.PowerManagement || !caps.OOBPrimaryLAN {
		t.Errorf("DCMICapabilities = %+v, %v", caps, err)
	}
	for _, cl := range ft.calls {
		switch cl.cmd {
		case command.CmdDCMIGetPowerReading:
			if cl.netFn == wire.NetFnGroupExt && !bytes.Equal(cl.data, hexBytes(t, "dc 01 00 00")) {
				t.Errorf("power reading request %x, want ipmitool's dc 01 00 00", cl.data)
			}
		}
	}
	if err := c.Close(ctx); err != nil || ft.closed.Load() != 1 {
		t.Errorf("Close: %v, transport closed %d times", err, ft.closed.Load())
	}
}

// lanBMC answers Get LAN Configuration Parameters from a table of
// parameter -> answer; missing parameters get code 80h.
func lanBMC(t *testing.T, table map[command.LANParameter]answer) func(call) answer {
	return func(c call) answer {
		if c.netFn != wire.NetFnTransport || c.cmd != command.CmdGetLANConfigParameters {
			t.Errorf("unexpected command %v/%#x", c.netFn, c.cmd)
			return answer{code: wire.CCInvalidCommand}
		}
		if c.data[0] != 0x01 {
			t.Errorf("request for channel byte %#x, want 1", c.data[0])
		}
		if a, ok := table[command.LANParameter(c.data[1])]; ok {
			return a
		}
		return answer{code: command.CCLANParameterNotSupported}
	}
}

func TestLANConfig(t *testing.T) {
	ctx := context.Background()
	ft := &fakeTransport{}
	ft.handler = lanBMC(t, map[command.LANParameter]answer{
		command.LANParamIPAddress:         {data: hexBytes(t, "11 0a 00 00 05")},
		command.LANParamSubnetMask:        {data: hexBytes(t, "11 ff ff ff 00")},
		command.LANParamMACAddress:        {data: hexBytes(t, "11 00 25 90 ab cd ef")},
		command.LANParamIPAddressSource:   {data: hexBytes(t, "11 02")},
		command.LANParamDefaultGatewayMAC: {code: wire.CCInvalidDataField}, // ipmitool: unsupported
		// default gateway: 80h from lanBMC
	})
	c := ipmi.NewClient(ft)
	cfg, err := c.LANConfig(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := ipmi.LANConfig{
		Channel: 1, HasIPAddressSource: true, IPAddressSource: command.LANIPSourceDHCP,
		IPAddress: netip.MustParseAddr("10.0.0.5"), SubnetMask: netip.MustParseAddr("255.255.255.0"),
		MACAddress: net.HardwareAddr{0x00, 0x25, 0x90, 0xab, 0xcd, 0xef},
	}
	if cfg.Channel != want.Channel || cfg.HasIPAddressSource != want.HasIPAddressSource ||
		cfg.IPAddressSource != want.IPAddressSource || cfg.IPAddress != want.IPAddress ||
		cfg.SubnetMask != want.SubnetMask || cfg.DefaultGateway.IsValid() ||
		!bytes.Equal(cfg.MACAddress, want.MACAddress) || cfg.DefaultGatewayMAC != nil {
		t.Fatalf("LANConfig = %+v\nwant %+v", cfg, want)
	}

	// Nothing supported: an empty config, not an error.
	ft.handler = lanBMC(t, nil)
	cfg, err = c.LANConfig(ctx, 1)
	if err != nil || cfg.IPAddress.IsValid() || cfg.MACAddress != nil || cfg.HasIPAddressSource {
		t.Fatalf("all unsupported: %+v, %v", cfg, err)
	}

	// Other completion codes fail the call.
	ft.handler = fixed(answer{code: wire.CCInsufficientPrivilege})
	if _, err := c.LANConfig(ctx, 1); !wire.IsCompletionCode(err, wire.CCInsufficientPrivilege) {
		t.Fatalf("insufficient privilege: err = %v", err)
	}
	// A short parameter is an error, not "unsupported".
	ft.handler = lanBMC(t, map[command.LANParameter]answer{
		command.LANParamIPAddress: {data: hexBytes(t, "11 0a 00")},
	})
	if _, err := c.LANConfig(ctx, 1); !errors.Is(err, wire.ErrShort) || !strings.Contains(err.Error(), "parameter 3") {
		t.Fatalf("short ip address: err = %v", err)
	}
	ft.handler = lanBMC(t, map[command.LANParameter]answer{
		command.LANParamMACAddress: {data: hexBytes(t, "11 00 25")},
	})
	if _, err := c.LANConfig(ctx, 1); !errors.Is(err, wire.ErrShort) {
		t.Fatalf("short mac: err = %v", err)
	}
}

func TestChannelCipherSuites(t *testing.T) {
	// ipmi_sim's blocks for list indexes 0-4.
	blocks := []string{
		"01 c0 00 00 40 80 c0 01 01 40 80 c0 02 01 41 80 c0",
		"01 03 01 41 81 c0 04 01 41 82 c0 05 01 41 83 c0 06",
		"01 02 40 80 c0 07 02 42 80 c0 08 02 42 81 c0 09 02",
		"01 42 82 c0 0a 02 42 83 c0 0b 02 43 80 c0 0c 02 43",
		"01 81 c0 0d 02 43 82 c0 0e 02 43 83",
	}
	ft := &fakeTransport{record: true, handler: func(c call) answer {
		idx := int(c.data[2] & 0x3F)
		if c.data[2]&0x80 == 0 || idx >= len(blocks) {
			return answer{code: wire.CCParameterOutOfRange}
		}
		return answer{data: hexBytes(t, blocks[idx])}
	}}
	suites, err := ipmi.NewClient(ft).ChannelCipherSuites(context.Background(), wire.ChannelPresentIface)
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != 15 || suites[3].ID != 3 || suites[3].AuthAlg != 1 || suites[14].ConfidentialityAlgs[0] != 3 {
		t.Fatalf("suites = %+v", suites)
	}
	if len(ft.calls) != 5 {
		t.Fatalf("%d requests, want 5 (stop at the short block)", len(ft.calls))
	}
	if !bytes.Equal(ft.calls[0].data, hexBytes(t, "0e 00 80")) {
		t.Fatalf("first request %x", ft.calls[0].data)
	}
}

// The client serializes exchanges even when many goroutines share it.
func TestClientConcurrentUse(t *testing.T) {
	ft := &fakeTransport{handler: func(call) answer {
		time.Sleep(50 * time.Microsecond)
		return answer{data: []byte{0x00, 0x3f, 0x01, 0x02, 0x04, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
	}}
	c := ipmi.NewClient(ft)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				var resp command.GetSessionInfoResponse
				if err := c.Do(context.Background(), &command.GetSessionInfoRequest{}, &resp); err != nil {
					t.Error(err)
					return
				}
				if _, _, port, ok := resp.LANSession(); !ok || port != 0x0c0b {
					t.Errorf("resp %+v", resp)
					return
				}
			}
		}()
	}
	wg.Wait()
	if ft.overlap.Load() {
		t.Fatal("two exchanges ran at once")
	}
}

// A caller waiting behind a stuck exchange gives up at its deadline.
func TestDoHonoursContextWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	ft := &fakeTransport{handler: func(call) answer {
		close(entered)
		<-release
		return answer{data: hexBytes(t, ipmiSimDeviceID)}
	}}
	c := ipmi.NewClient(ft)
	done := make(chan error, 1)
	go func() {
		_, err := c.DeviceID(context.Background())
		done <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ChassisStatus(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Do must not allocate for a small command once warmed up: the request is
// encoded into the client's buffer and decoded into the caller's struct.
func TestDoDoesNotAllocate(t *testing.T) {
	reply := hexBytes(t, ipmiSimDeviceID)
	ft := &fakeTransport{handler: func(call) answer { return answer{data: reply} }}
	c := ipmi.NewClient(ft)
	ctx := context.Background()
	req := &command.GetDeviceIDRequest{}
	var resp command.GetDeviceIDResponse
	allocs := testing.AllocsPerRun(200, func() {
		if err := c.Do(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Do allocates %.1f times per call", allocs)
	}
	lanReq := &command.GetLANConfigRequest{Channel: 1, Parameter: command.LANParamIPAddress}
	var lanResp command.GetLANConfigResponse
	lanReply := []byte{0x11, 10, 0, 0, 5}
	ft.handler = func(call) answer { return answer{data: lanReply} }
	allocs = testing.AllocsPerRun(200, func() {
		if err := c.Do(ctx, lanReq, &lanResp); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Do with request data allocates %.1f times per call", allocs)
	}
}

func BenchmarkClientDo(b *testing.B) {
	reply := hexBytes(b, ipmiSimDeviceID)
	ft := &fakeTransport{handler: func(call) answer { return answer{data: reply} }}
	c := ipmi.NewClient(ft)
	ctx := context.Background()
	req := &command.GetDeviceIDRequest{}
	var resp command.GetDeviceIDResponse
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(ctx, req, &resp); err != nil {
			b.Fatal(err)
		}
	}
}
