package inband

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// DefaultDevices are the device files tried in order when Options.Device
// is empty: udev's name, then the names of devfs-style and older setups.
var DefaultDevices = []string{"/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0"}

// Options configure Open.
type Options struct {
	// Device is the device file; empty tries DefaultDevices in order.
	Device string
}

// maxRequestData bounds the request data: IPMI_MAX_MSG_LENGTH (272 in
// current kernels, 36 in old ones) minus nothing we add; the kernel
// refuses longer ones with EMSGSIZE anyway.
const maxRequestData = 272

// replyBufferSize holds any reply: the kernel's messages are at most
// IPMI_MAX_MSG_LENGTH bytes; a larger buffer means a reply is never cut
// (RECEIVE_MSG_TRUNC would report EMSGSIZE).
const replyBufferSize = 1024

// device is the ioctl layer under a Transport: the real device file on
// Linux (device_linux.go), a fake in tests.
type device interface {
	// send issues IPMICTL_SEND_COMMAND; it never waits for the answer.
	send(req *ipmiReq) error
	// receive issues IPMICTL_RECEIVE_MSG_TRUNC, waiting for a message
	// until the read deadline (os.ErrDeadlineExceeded) or close. A reply
	// cut to the buffer is written and reported as errTruncated.
	receive(r *ipmiRecv) error
	// setReadDeadline bounds receive; the zero time means no deadline.
	setReadDeadline(t time.Time) error
	close() error
}

// errTruncated: RECEIVE_MSG_TRUNC delivered a reply cut to the buffer
// (EMSGSIZE); the message is consumed.
var errTruncated = errors.New("reply truncated to the buffer")

// Transport is the local BMC through the kernel's IPMI driver. It
// implements ipmi.Transport and is safe for concurrent use: requests from
// several goroutines are in flight together, matched by message ID.
type Transport struct {
	dev  device
	path string

	// readToken is held by the one goroutine reading the device; it
	// hands every reply to the request it belongs to.
	readToken chan struct{}

	mu      sync.Mutex
	closed  bool
	nextID  int
	pending map[int]*call

	// The reader's buffers, guarded by readToken.
	recv     ipmiRecv
	recvAddr anyAddr
	recvData [replyBufferSize]byte

	// dropped counts replies no request waited for any more (it gave up
	// before the answer came) and unsolicited messages.
	dropped atomic.Uint64
}

// call is one request waiting for its reply.
type call struct {
	id    int
	netFn wire.NetFn
	cmd   uint8
	done  chan struct{} // closed once cc, data, err are set
	cc    wire.CompletionCode
	data  []byte
	err   error
}

// Open opens the IPMI device (opts.Device, or the first of DefaultDevices
// that exists). Errors wrap ErrNoDevice (with the modules to load) or
// ErrPermission (with the device's owner and mode). No request is sent.
func Open(opts Options) (*Transport, error) {
	paths := DefaultDevices
	if opts.Device != "" {
		paths = []string{opts.Device}
	}
	var firstErr error
	for _, p := range paths {
		dev, err := openDevice(p)
		if err == nil {
			return newTransport(dev, p), nil
		}
		err = openError(p, err)
		if !errors.Is(err, ErrNoDevice) {
			// The device is there but unusable (permission): say so
			// rather than that the next name does not exist.
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if len(paths) > 1 {
		return nil, fmt.Errorf("%w: none of %v exists; %s", ErrNoDevice, paths, modulesHint)
	}
	return nil, firstErr
}

func newTransport(dev device, path string) *Transport {
	return &Transport{dev: dev, path: path, readToken: make(chan struct{}, 1), pending: map[int]*call{}}
}

// Device is the path of the device file in use.
func (t *Transport) Device() string { return t.path }

// Dropped is the number of replies dropped because their request had
// given up (or that answered nothing of ours).
func (t *Transport) Dropped() uint64 { return t.dropped.Load() }

// Exchange sends one request and returns the completion code and the
// response data after it (see ipmi.Transport). The zero Target (or the
// BMC's own address) is the BMC through the system interface; any other
// target is an IPMB address the kernel bridges to. The returned data is
// the caller's own. Every wait ends with ctx.
//
// A reply of only the completion code 0xFF, 0xC3 or 0xD2 from the system
// interface is what the driver (or a virtual machine's BMC link) answers
// when the BMC does not: Exchange then checks with Get Device ID and, if
// that fails too, returns an error wrapping ErrNoBMC instead of the code.
func (t *Transport) Exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	cc, resp, err := t.exchange(ctx, target, netFn, cmd, data)
	if err != nil || !target.IsBMC() || len(resp) != 0 || !driverFailure(cc) {
		return cc, resp, err
	}
	if netFn != wire.NetFnApp || cmd != command.CmdGetDeviceID {
		pcc, _, perr := t.exchange(ctx, wire.Target{}, wire.NetFnApp, command.CmdGetDeviceID, nil)
		if perr == nil && pcc == wire.CCOK {
			// The BMC answers: the code was its own.
			return cc, resp, nil
		}
		if perr != nil {
			return 0, nil, fmt.Errorf("%w through %s: completion code %s from the driver, and Get Device ID: %w",
				ErrNoBMC, t.path, cc, perr)
		}
		return 0, nil, fmt.Errorf("%w through %s: completion code %s from the driver, and %s to Get Device ID",
			ErrNoBMC, t.path, cc, pcc)
	}
	return 0, nil, fmt.Errorf("%w through %s: completion code %s from the driver to Get Device ID",
		ErrNoBMC, t.path, cc)
}

// driverFailure reports the completion codes the kernel's system
// interface driver (0xFF for an interface it gave up on, 0xC3 for a
// timeout) or QEMU's external BMC link (0xD2 while the BMC is not
// connected, 0xC3 after 4 s without an answer) put in a reply of their own.
func driverFailure(cc wire.CompletionCode) bool {
	return cc == wire.CCUnspecified || cc == wire.CCTimeout || cc == wire.CCBMCInitializing
}

func (t *Transport) exchange(ctx context.Context, target wire.Target, netFn wire.NetFn, cmd uint8, data []byte) (wire.CompletionCode, []byte, error) {
	if netFn.IsResponse() {
		return 0, nil, fmt.Errorf("inband: netfn 0x%02x is a response netfn", uint8(netFn))
	}
	if len(data) > maxRequestData {
		return 0, nil, fmt.Errorf("inband: request of %d data bytes, at most %d", len(data), maxRequestData)
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrTimeout, err)
	}

	req := &ipmiReq{msg: ipmiMsg{netFn: uint8(netFn), cmd: cmd, dataLen: uint16(len(data))}}
	if len(data) > 0 {
		req.msg.data = &data[0]
	}
	if target.IsBMC() {
		a := &systemInterfaceAddr{addrType: addrTypeSystemInterface, channel: bmcChannel, lun: target.LUN & 3}
		req.addr, req.addrLen = (*byte)(unsafe.Pointer(a)), uint32(unsafe.Sizeof(*a))
	} else {
		a := &ipmbAddr{addrType: addrTypeIPMB, channel: int16(target.Channel), slaveAddr: target.Addr, lun: target.LUN & 3}
		req.addr, req.addrLen = (*byte)(unsafe.Pointer(a)), uint32(unsafe.Sizeof(*a))
	}

	c := &call{netFn: netFn, cmd: cmd, done: make(chan struct{})}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, nil, ErrClosed
	}
	t.nextID++
	c.id = t.nextID
	req.msgID = c.id
	t.pending[c.id] = c
	t.mu.Unlock()

	if err := t.dev.send(req); err != nil {
		t.abandon(c)
		return 0, nil, t.sendError(err)
	}
	if err := t.wait(ctx, c); err != nil {
		return 0, nil, err
	}
	return c.cc, c.data, c.err
}

func (t *Transport) sendError(err error) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return fmt.Errorf("%w: sending to %s: %w; %s", ErrNoDevice, t.path, err, modulesHint)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("inband: sending to %s: too many requests in flight for the driver: %w", t.path, err)
	}
	return fmt.Errorf("inband: sending to %s: %w", t.path, err)
}

// wait returns once c has its reply or ctx ends. Callers take turns as
// the reader: whoever holds readToken reads replies for everyone.
func (t *Transport) wait(ctx context.Context, c *call) error {
	for {
		select {
		case <-c.done:
			return nil
		default:
		}
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			select {
			case <-c.done: // the reply won the race
				return nil
			default:
			}
			t.abandon(c)
			return fmt.Errorf("%w: %s, command %s: %w", ErrTimeout, t.path, command.Op{NetFn: c.netFn, Cmd: c.cmd}, ctx.Err())
		case t.readToken <- struct{}{}:
			err := t.read(ctx, c)
			<-t.readToken
			if err != nil {
				t.abandon(c)
				return err
			}
		}
	}
}

// read receives replies, handing each to its request, until c has its
// own or ctx ends.
func (t *Transport) read(ctx context.Context, c *call) error {
	deadline, _ := ctx.Deadline()
	if err := t.dev.setReadDeadline(deadline); err != nil {
		return t.readError(err)
	}
	// A cancellation without a deadline interrupts the wait too. If this
	// fires after the token moved on, the next reader sees a deadline that
	// is not its own and sets its own again (below).
	stop := context.AfterFunc(ctx, func() { t.dev.setReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		select {
		case <-c.done:
			return nil
		default:
		}
		t.recv = ipmiRecv{addr: (*byte)(unsafe.Pointer(&t.recvAddr)), addrLen: uint32(unsafe.Sizeof(t.recvAddr)),
			msg: ipmiMsg{data: &t.recvData[0], dataLen: uint16(len(t.recvData))}}
		err := t.dev.receive(&t.recv)
		switch {
		case err == nil:
			t.dispatch(false)
		case errors.Is(err, errTruncated):
			t.dispatch(true)
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() != nil {
				select {
				case <-c.done:
					return nil
				default:
				}
				return fmt.Errorf("%w: %s, command %s: %w", ErrTimeout, t.path, command.Op{NetFn: c.netFn, Cmd: c.cmd}, ctx.Err())
			}
			if err := t.dev.setReadDeadline(deadline); err != nil {
				return t.readError(err)
			}
		default:
			return t.readError(err)
		}
	}
}

func (t *Transport) readError(err error) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return fmt.Errorf("inband: receiving from %s: %w", t.path, err)
}

// dispatch hands the message in the reader's buffers to its request.
func (t *Transport) dispatch(truncated bool) {
	m, err := parseRecv(&t.recv, t.recvData[:])
	t.mu.Lock()
	c := t.pending[m.msgID]
	if m.recvType != recvTypeResponse {
		// Events and commands are only delivered to a file that asked
		// for them; this one never does.
		c = nil
	}
	if c == nil {
		t.mu.Unlock()
		t.dropped.Add(1)
		return
	}
	delete(t.pending, m.msgID)
	t.mu.Unlock()

	op := command.Op{NetFn: c.netFn, Cmd: c.cmd}
	switch {
	case err != nil:
		c.err = fmt.Errorf("%w: %s, command %s: %w", ErrProtocol, t.path, op, err)
	case truncated:
		c.err = fmt.Errorf("%w: %s, command %s: %w", ErrProtocol, t.path, op, errTruncated)
	case m.netFn != c.netFn|1 || m.cmd != c.cmd:
		c.err = fmt.Errorf("%w: %s, command %s: the reply is for netfn 0x%02x command 0x%02x",
			ErrProtocol, t.path, op, uint8(m.netFn), m.cmd)
	default:
		c.cc = m.cc
		c.data = append([]byte(nil), m.data...)
	}
	close(c.done)
}

// abandon forgets c: a reply for it that comes later is dropped.
func (t *Transport) abandon(c *call) {
	t.mu.Lock()
	delete(t.pending, c.id)
	t.mu.Unlock()
}

// Close closes the device file. Requests waiting for replies return
// ErrClosed. It is idempotent; ctx is not needed (nothing is sent).
func (t *Transport) Close(context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for id, c := range t.pending {
		delete(t.pending, id)
		c.err = ErrClosed
		close(c.done)
	}
	t.mu.Unlock()
	return t.dev.close()
}
