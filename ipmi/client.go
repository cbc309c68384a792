// Package ipmi is the typed IPMI client the collectors use: Client sends
// command.Request values over a Transport (an IPMI-over-LAN session) and
// decodes the answers into command.Response values.
package ipmi

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// Transport carries one request at a time to a BMC or, bridged, to a
// controller behind it. *session.Session implements it.
type Transport interface {
	// Exchange sends one request to target (the zero Target is the BMC;
	// others are bridged) and returns the completion code and the response
	// data after it. The returned slice is valid until the next Exchange
	// on this Transport.
	Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error)
	// Close ends the session; it is idempotent.
	Close(ctx context.Context) error
}

// requestBufferSize covers any request the exporter sends: IPMI LAN
// messages carry at most a few dozen data bytes.
const requestBufferSize = 64

// Client sends typed commands over a Transport. It is safe for concurrent
// use; commands are serialized, because the request buffer is reused and
// the transport's response slice is only valid until its next Exchange.
type Client struct {
	t Transport
	// lock is a one-slot semaphore used as a mutex: unlike sync.Mutex a
	// caller waiting for it gives up when its context ends, so a stuck
	// exchange on a slow BMC cannot pile up goroutines past their deadline.
	lock chan struct{}
	buf  []byte // request encoding buffer, guarded by lock
}

// NewClient returns a Client over t.
func NewClient(t Transport) *Client {
	return &Client{t: t, lock: make(chan struct{}, 1), buf: make([]byte, 0, requestBufferSize)}
}

// Do sends req to the BMC and decodes the answer into resp (which may be
// nil for commands whose response data the caller ignores). A non-zero
// completion code is returned as a *wire.CompletionCodeError.
func (c *Client) Do(ctx context.Context, req command.Request, resp command.Response) error {
	return c.DoTarget(ctx, wire.Target{}, req, resp)
}

// DoTarget is Do for a controller behind the BMC; the transport bridges
// the request. Errors for bridged targets name the target.
func (c *Client) DoTarget(ctx context.Context, target wire.Target, req command.Request, resp command.Response) error {
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return c.fail(target, req.Op(), fmt.Errorf("waiting for the client: %w", ctx.Err()))
	}
	defer func() { <-c.lock }()

	op := req.Op()
	c.buf = req.AppendTo(c.buf[:0])
	code, data, err := c.t.Exchange(ctx, target, op.NetFn, op.Cmd, c.buf)
	if err != nil {
		return c.fail(target, op, err)
	}
	if code != wire.CCOK {
		ccErr := &wire.CompletionCodeError{NetFn: op.NetFn, Command: op.Cmd, Code: code}
		if target.IsBMC() {
			return ccErr
		}
		return fmt.Errorf("ipmi: target %s: %w", targetString(target), ccErr)
	}
	if resp == nil {
		return nil
	}
	if err := resp.Unmarshal(data); err != nil {
		return c.fail(target, op, fmt.Errorf("decoding response: %w", err))
	}
	return nil
}

// fail wraps err with the command and, for bridged requests, the target.
// It only runs on error paths, so its allocations stay off the hot path.
func (c *Client) fail(target wire.Target, op command.Op, err error) error {
	if target.IsBMC() {
		return fmt.Errorf("ipmi: %s: %w", op, err)
	}
	return fmt.Errorf("ipmi: target %s: %s: %w", targetString(target), op, err)
}

func targetString(t wire.Target) string {
	return fmt.Sprintf("channel %d address 0x%02x lun %d", t.Channel, t.Addr, t.LUN)
}

// Close closes the transport (Close Session for a LAN session). It does
// not wait for a command in progress: the transport handles that.
func (c *Client) Close(ctx context.Context) error { return c.t.Close(ctx) }

// DeviceID runs Get Device ID on the BMC.
func (c *Client) DeviceID(ctx context.Context) (command.GetDeviceIDResponse, error) {
	var resp command.GetDeviceIDResponse
	err := c.Do(ctx, &command.GetDeviceIDRequest{}, &resp)
	return resp, err
}

// SystemGUID runs Get System GUID.
func (c *Client) SystemGUID(ctx context.Context) (command.GUID, error) {
	var resp command.GetSystemGUIDResponse
	err := c.Do(ctx, &command.GetSystemGUIDRequest{}, &resp)
	return resp.GUID, err
}

// ChassisStatus runs Get Chassis Status.
func (c *Client) ChassisStatus(ctx context.Context) (command.GetChassisStatusResponse, error) {
	var resp command.GetChassisStatusResponse
	err := c.Do(ctx, &command.GetChassisStatusRequest{}, &resp)
	return resp, err
}

// DCMIPowerReading runs DCMI Get Power Reading in mode 1 (system power
// statistics), as ipmitool "dcmi power reading" and FreeIPMI do. Check
// MeasurementActive before trusting the values.
func (c *Client) DCMIPowerReading(ctx context.Context) (command.GetPowerReadingResponse, error) {
	var resp command.GetPowerReadingResponse
	err := c.Do(ctx, &command.GetPowerReadingRequest{Mode: command.DCMIPowerSystemStatistics}, &resp)
	return resp, err
}

// DCMICapabilities is the DCMI conformance version with the supported
// capabilities (Get DCMI Capabilities Info parameter 1).
type DCMICapabilities struct {
	MajorVersion, MinorVersion uint8
	command.DCMISupportedCapabilities
}

// DCMICapabilities asks which DCMI features the BMC supports. A BMC
// without DCMI answers with a completion code (typically 0xC1).
func (c *Client) DCMICapabilities(ctx context.Context) (DCMICapabilities, error) {
	var resp command.GetDCMICapabilitiesResponse
	req := command.GetDCMICapabilitiesRequest{Parameter: command.DCMIParamSupportedCapabilities}
	if err := c.Do(ctx, &req, &resp); err != nil {
		return DCMICapabilities{}, err
	}
	caps, err := resp.SupportedCapabilities()
	if err != nil {
		return DCMICapabilities{}, fmt.Errorf("ipmi: dcmi capabilities: %w", err)
	}
	return DCMICapabilities{MajorVersion: resp.MajorVersion, MinorVersion: resp.MinorVersion,
		DCMISupportedCapabilities: caps}, nil
}

// LANConfig is the addressing of one LAN channel. A parameter the BMC does
// not support is left empty: an invalid netip.Addr, a nil MAC, and
// HasIPAddressSource false.
type LANConfig struct {
	Channel            uint8
	HasIPAddressSource bool
	IPAddressSource    command.LANIPAddressSource
	IPAddress          netip.Addr
	SubnetMask         netip.Addr
	DefaultGateway     netip.Addr
	MACAddress         net.HardwareAddr
	DefaultGatewayMAC  net.HardwareAddr
}

// lanParameterUnsupported reports whether err is a completion code that
// means "this BMC does not have this parameter": 80h (parameter not
// supported) and, as ipmitool's "lan print" also treats them, C9h
// (parameter out of range), CBh (data not present) and CCh (invalid data
// field).
func lanParameterUnsupported(err error) bool {
	for _, code := range [...]wire.CompletionCode{command.CCLANParameterNotSupported,
		wire.CCParameterOutOfRange, wire.CCRequestedDataNotPresent, wire.CCInvalidDataField} {
		if wire.IsCompletionCode(err, code) {
			return true
		}
	}
	return false
}

// LANConfig reads the IP address source, IP address, subnet mask, MAC
// address, default gateway and default gateway MAC of channel. Any other
// error (including "invalid command") fails the whole call.
func (c *Client) LANConfig(ctx context.Context, channel uint8) (LANConfig, error) {
	cfg := LANConfig{Channel: channel}
	var resp command.GetLANConfigResponse
	get := func(p command.LANParameter) (bool, error) {
		req := command.GetLANConfigRequest{Channel: channel, Parameter: p}
		if err := c.Do(ctx, &req, &resp); err != nil {
			if lanParameterUnsupported(err) {
				return false, nil
			}
			return false, err
		}
		return true, nil
	}
	fail := func(p command.LANParameter, err error) (LANConfig, error) {
		return LANConfig{}, fmt.Errorf("ipmi: lan config channel %d parameter %d: %w", channel, p, err)
	}
	addrs := []struct {
		param command.LANParameter
		dst   *netip.Addr
	}{
		{command.LANParamIPAddress, &cfg.IPAddress},
		{command.LANParamSubnetMask, &cfg.SubnetMask},
		{command.LANParamDefaultGateway, &cfg.DefaultGateway},
	}
	for _, a := range addrs {
		ok, err := get(a.param)
		if err != nil {
			return LANConfig{}, err
		}
		if ok {
			if *a.dst, err = resp.AsIPv4(); err != nil {
				return fail(a.param, err)
			}
		}
	}
	macs := []struct {
		param command.LANParameter
		dst   *net.HardwareAddr
	}{
		{command.LANParamMACAddress, &cfg.MACAddress},
		{command.LANParamDefaultGatewayMAC, &cfg.DefaultGatewayMAC},
	}
	for _, m := range macs {
		ok, err := get(m.param)
		if err != nil {
			return LANConfig{}, err
		}
		if ok {
			mac, err := resp.AsMAC()
			if err != nil {
				return fail(m.param, err)
			}
			*m.dst = net.HardwareAddr(mac[:])
		}
	}
	ok, err := get(command.LANParamIPAddressSource)
	if err != nil {
		return LANConfig{}, err
	}
	if ok {
		if cfg.IPAddressSource, err = resp.AsIPAddressSource(); err != nil {
			return fail(command.LANParamIPAddressSource, err)
		}
		cfg.HasIPAddressSource = true
	}
	return cfg, nil
}

// ChannelCipherSuites reads the cipher suite records of channel (use
// wire.ChannelPresentIface for the channel the session runs on): list
// indexes 0, 1, ... until a block shorter than 16 bytes.
func (c *Client) ChannelCipherSuites(ctx context.Context, channel uint8) ([]command.CipherSuiteRecord, error) {
	var records []byte
	var resp command.GetChannelCipherSuitesResponse
	for index := uint8(0); index <= command.CipherSuiteListIndexMax; index++ {
		req := command.GetChannelCipherSuitesRequest{Channel: channel, PayloadType: wire.PayloadIPMI,
			ListIndex: index, ListByCipherSuite: true}
		if err := c.Do(ctx, &req, &resp); err != nil {
			return nil, err
		}
		records = append(records, resp.RecordData...)
		if len(resp.RecordData) < int(command.CipherSuiteRecordDataMax) {
			break
		}
	}
	suites, err := command.ParseCipherSuiteRecords(records)
	if err != nil {
		return nil, fmt.Errorf("ipmi: channel %d cipher suites: %w", channel, err)
	}
	return suites, nil
}
