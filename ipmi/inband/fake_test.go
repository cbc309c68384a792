package inband

import (
	"os"
	"sync"
	"time"
	"unsafe"
)

// sentReq is a request as the fake device decoded it from struct ipmi_req.
type sentReq struct {
	msgID     int
	addrType  int32
	channel   int16
	slaveAddr uint8 // IPMB only
	lun       uint8
	netFn     uint8
	cmd       uint8
	data      []byte
}

// fakeMsg is a message the fake device hands to receive.
type fakeMsg struct {
	recvType int32
	msgID    int
	netFn    uint8
	cmd      uint8
	data     []byte // completion code first
}

// reply answers req with cc and data, as the kernel would.
func reply(req sentReq, data ...byte) fakeMsg {
	return fakeMsg{recvType: recvTypeResponse, msgID: req.msgID, netFn: req.netFn | 1, cmd: req.cmd, data: data}
}

// fakeDevice stands in for /dev/ipmi0 behind the ioctl layer: it decodes
// the ioctl structs the transport fills and fills the receive struct as
// the kernel does. respond decides each request's fate: a reply now
// (ok true), or none (ok false: the test may deliver one later).
type fakeDevice struct {
	respond func(req sentReq) (msg fakeMsg, ok bool)
	sendErr error

	mu       sync.Mutex
	queue    []fakeMsg
	sent     []sentReq
	deadline time.Time
	closed   bool
	wake     chan struct{} // capacity 1: something changed for receive
	closedCh chan struct{}
}

func newFakeDevice(respond func(sentReq) (fakeMsg, bool)) *fakeDevice {
	return &fakeDevice{respond: respond, wake: make(chan struct{}, 1), closedCh: make(chan struct{})}
}

func (d *fakeDevice) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// deliver queues a message for receive.
func (d *fakeDevice) deliver(m fakeMsg) {
	d.mu.Lock()
	d.queue = append(d.queue, m)
	d.mu.Unlock()
	d.signal()
}

func (d *fakeDevice) requests() []sentReq {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sentReq(nil), d.sent...)
}

func (d *fakeDevice) send(req *ipmiReq) error {
	if d.sendErr != nil {
		return d.sendErr
	}
	s := sentReq{msgID: req.msgID, netFn: req.msg.netFn, cmd: req.msg.cmd}
	if req.msg.dataLen > 0 {
		s.data = append([]byte(nil), unsafe.Slice(req.msg.data, req.msg.dataLen)...)
	}
	switch req.addrLen {
	case uint32(unsafe.Sizeof(systemInterfaceAddr{})):
		// Both address structs are 8 bytes; the type says which.
		si := (*systemInterfaceAddr)(unsafe.Pointer(req.addr))
		s.addrType, s.channel, s.lun = si.addrType, si.channel, si.lun
		if si.addrType == addrTypeIPMB {
			ip := (*ipmbAddr)(unsafe.Pointer(req.addr))
			s.slaveAddr, s.lun = ip.slaveAddr, ip.lun
		}
	default:
		return os.ErrInvalid
	}
	d.mu.Lock()
	d.sent = append(d.sent, s)
	d.mu.Unlock()
	if m, ok := d.respond(s); ok {
		d.deliver(m)
	}
	return nil
}

func (d *fakeDevice) receive(r *ipmiRecv) error {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return os.ErrClosed
		}
		if len(d.queue) > 0 {
			m := d.queue[0]
			d.queue = d.queue[1:]
			d.mu.Unlock()
			return fill(r, m)
		}
		var timeout <-chan time.Time
		var tm *time.Timer
		if !d.deadline.IsZero() {
			left := time.Until(d.deadline)
			if left <= 0 {
				d.mu.Unlock()
				return os.ErrDeadlineExceeded
			}
			tm = time.NewTimer(left)
			timeout = tm.C
		}
		d.mu.Unlock()
		select {
		case <-d.wake:
		case <-timeout:
		case <-d.closedCh:
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// fill writes m into r as the kernel's RECEIVE_MSG_TRUNC does.
func fill(r *ipmiRecv, m fakeMsg) error {
	r.recvType, r.msgID = m.recvType, m.msgID
	a := (*anyAddr)(unsafe.Pointer(r.addr))
	*a = anyAddr{addrType: addrTypeSystemInterface, channel: bmcChannel}
	r.addrLen = uint32(unsafe.Sizeof(systemInterfaceAddr{}))
	r.msg.netFn, r.msg.cmd = m.netFn, m.cmd
	buf := unsafe.Slice(r.msg.data, r.msg.dataLen)
	n := copy(buf, m.data)
	r.msg.dataLen = uint16(n)
	if n < len(m.data) {
		return errTruncated
	}
	return nil
}

func (d *fakeDevice) setReadDeadline(t time.Time) error {
	d.mu.Lock()
	d.deadline = t
	d.mu.Unlock()
	d.signal()
	return nil
}

func (d *fakeDevice) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.closedCh)
	}
	return nil
}
