package inband

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _ ipmi.Transport = (*Transport)(nil)

// echo answers every request with cc 0 and its data, prefixed by its
// command number, so a reply given to the wrong request shows.
func echo(req sentReq) (fakeMsg, bool) {
	return reply(req, append([]byte{0x00, req.cmd}, req.data...)...), true
}

func newTestTransport(t *testing.T, respond func(sentReq) (fakeMsg, bool)) (*Transport, *fakeDevice) {
	t.Helper()
	d := newFakeDevice(respond)
	tr := newTransport(d, "/dev/ipmi0")
	t.Cleanup(func() { tr.Close(context.Background()) })
	return tr, d
}

// The BMC goes through the system interface address, anything else
// through an IPMB address the kernel bridges.
func TestAddressing(t *testing.T) {
	tests := []struct {
		name   string
		target wire.Target
		want   sentReq
	}{
		{"zero target", wire.Target{}, sentReq{addrType: 0x0c, channel: 0x0f}},
		{"BMC address", wire.Target{Addr: 0x20}, sentReq{addrType: 0x0c, channel: 0x0f}},
		{"BMC LUN 1", wire.Target{Addr: 0x20, LUN: 1}, sentReq{addrType: 0x0c, channel: 0x0f, lun: 1}},
		{"satellite", wire.Target{Addr: 0x30}, sentReq{addrType: 0x01, channel: 0, slaveAddr: 0x30}},
		{"satellite LUN 2 channel 6", wire.Target{Channel: 6, Addr: 0x72, LUN: 2}, sentReq{addrType: 0x01, channel: 6, slaveAddr: 0x72, lun: 2}},
		{"BMC address on another channel", wire.Target{Channel: 7, Addr: 0x20}, sentReq{addrType: 0x01, channel: 7, slaveAddr: 0x20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, d := newTestTransport(t, echo)
			cc, data, err := tr.Exchange(context.Background(), tc.target, wire.NetFnSensorEvent, 0x2d, []byte{0x07})
			if err != nil || cc != wire.CCOK || !bytes.Equal(data, []byte{0x2d, 0x07}) {
				t.Fatalf("Exchange: cc %v data % x err %v", cc, data, err)
			}
			got := d.requests()[0]
			want := tc.want
			want.msgID, want.netFn, want.cmd, want.data = got.msgID, 0x04, 0x2d, []byte{0x07}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("sent %+v, want %+v", got, want)
			}
		})
	}
}

func TestCompletionCodeAndData(t *testing.T) {
	tr, _ := newTestTransport(t, func(req sentReq) (fakeMsg, bool) {
		return reply(req, 0xcb), true // requested data not present: the BMC's own code
	})
	cc, data, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnStorage, command.CmdGetSDR, make([]byte, 6))
	if err != nil || cc != 0xcb || len(data) != 0 {
		t.Fatalf("cc %v data % x err %v", cc, data, err)
	}
}

// Many goroutines, replies out of order: each request gets its own.
func TestConcurrentOutOfOrder(t *testing.T) {
	const workers, each = 8, 40
	var mu sync.Mutex
	var held []fakeMsg
	active := workers
	var d *fakeDevice
	// flush releases the held replies newest first once every live
	// worker waits for one (each has one request in flight at most).
	flush := func() {
		if len(held) < active && len(held) < 4 {
			return
		}
		for i := len(held) - 1; i >= 0; i-- {
			d.deliver(held[i])
		}
		held = held[:0]
	}
	tr, d := newTestTransport(t, func(req sentReq) (fakeMsg, bool) {
		m, _ := echo(req)
		mu.Lock()
		defer mu.Unlock()
		held = append(held, m)
		flush()
		return fakeMsg{}, false
	})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer func() {
				mu.Lock()
				active--
				flush()
				mu.Unlock()
			}()
			for i := 0; i < each; i++ {
				payload := []byte{byte(w), byte(i)}
				cmd := uint8(0x10 + w)
				_, data, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, cmd, payload)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(data, append([]byte{cmd}, payload...)) {
					errs <- fmt.Errorf("worker %d request %d got % x", w, i, data)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := tr.Dropped(); n != 0 {
		t.Errorf("%d replies dropped", n)
	}
}

// A request whose context ends while the BMC works on it gives up; its
// reply, arriving later, is dropped, not handed to the next request.
func TestDeadlineMidRequestLateReplyDropped(t *testing.T) {
	for _, kind := range []string{"deadline", "cancel"} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var late []sentReq
			var mu sync.Mutex
			tr, d := newTestTransport(t, func(req sentReq) (fakeMsg, bool) {
				if req.cmd == 0x01 {
					mu.Lock()
					late = append(late, req)
					mu.Unlock()
					if kind == "cancel" {
						cancel() // the context ends while the request is out
					}
					return fakeMsg{}, false // answered only later
				}
				return echo(req)
			})
			if kind == "deadline" {
				// Long enough to be sent on a loaded machine: the request
				// is checked below to have gone out.
				ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
			}
			want := context.Canceled
			if kind == "deadline" {
				want = context.DeadlineExceeded
			}
			_, _, err := tr.Exchange(ctx, wire.Target{}, wire.NetFnApp, 0x01, nil)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, want) {
				t.Fatalf("got %v, want ErrTimeout and %v", err, want)
			}
			mu.Lock()
			sent := len(late)
			mu.Unlock()
			if sent != 1 {
				t.Fatalf("%d requests went out before the context ended", sent)
			}
			// Now the late reply arrives, before the next request's own.
			d.deliver(reply(late[0], 0x00, 0xee, 0xee))
			_, data, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x02, []byte{0x42})
			if err != nil || !bytes.Equal(data, []byte{0x02, 0x42}) {
				t.Fatalf("next request: data % x err %v", data, err)
			}
			if n := tr.Dropped(); n != 1 {
				t.Errorf("dropped %d replies, want 1", n)
			}
		})
	}
}

// A cancellation without a deadline ends the wait too, for the reader
// and for a request waiting behind it.
func TestCancelWithoutDeadline(t *testing.T) {
	tr, _ := newTestTransport(t, func(sentReq) (fakeMsg, bool) { return fakeMsg{}, false })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, errs[i] = tr.Exchange(ctx, wire.Target{}, wire.NetFnApp, 0x01, nil)
		}(i)
	}
	// Cancel once all three are in flight.
	waitFor(t, func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return len(tr.pending) == 3 })
	cancel()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if n := len(tr.pending); n != 0 {
		t.Errorf("%d requests still pending", n)
	}
}

// A deadline interruption meant for an earlier reader (its cancellation
// fired late) does not end the next reader's wait.
func TestStaleInterruptIgnored(t *testing.T) {
	var d *fakeDevice
	tr, d := newTestTransport(t, func(req sentReq) (fakeMsg, bool) {
		go func() {
			// A stale interruption, then the real reply.
			d.setReadDeadline(time.Unix(1, 0))
			d.deliver(reply(req, 0x00, 0x01))
		}()
		return fakeMsg{}, false
	})
	for i := 0; i < 20; i++ {
		_, data, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, nil)
		if err != nil || !bytes.Equal(data, []byte{0x01}) {
			t.Fatalf("request %d: data % x err %v", i, data, err)
		}
	}
}

// The BMC stops answering part way: the driver answers 0xFF (system
// interface given up) and Get Device ID fails the same way: ErrNoBMC.
// A BMC that answers Get Device ID keeps its own 0xFF.
func TestBMCStopsAnswering(t *testing.T) {
	var mu sync.Mutex
	answering, hosed := 3, true
	tr, d := newTestTransport(t, func(req sentReq) (fakeMsg, bool) {
		mu.Lock()
		defer mu.Unlock()
		if answering > 0 {
			answering--
			return echo(req)
		}
		if !hosed && req.cmd == command.CmdGetDeviceID {
			return echo(req)
		}
		return reply(req, 0xff), true
	})
	client := ipmi.NewClient(tr)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, _, err := tr.Exchange(ctx, wire.Target{}, wire.NetFnSensorEvent, 0x2d, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := client.ChassisStatus(ctx)
	if !errors.Is(err, ErrNoBMC) || !strings.Contains(err.Error(), "0xff") || !strings.Contains(err.Error(), "/dev/ipmi0") {
		t.Fatalf("got %v, want ErrNoBMC naming the code and device", err)
	}
	reqs := d.requests()
	if last := reqs[len(reqs)-1]; last.cmd != command.CmdGetDeviceID {
		t.Errorf("no Get Device ID check: last request %+v", last)
	}
	_, err = client.DeviceID(ctx)
	if !errors.Is(err, ErrNoBMC) {
		t.Fatalf("Get Device ID: got %v, want ErrNoBMC", err)
	}
	// QEMU's "BMC not connected" code, and the timeout code, likewise.
	for _, cc := range []byte{0xd2, 0xc3} {
		tr2, _ := newTestTransport(t, func(req sentReq) (fakeMsg, bool) { return reply(req, cc), true })
		if _, _, err := tr2.Exchange(ctx, wire.Target{}, wire.NetFnStorage, 0x20, nil); !errors.Is(err, ErrNoBMC) {
			t.Errorf("cc 0x%02x: got %v, want ErrNoBMC", cc, err)
		}
	}

	mu.Lock()
	hosed = false
	mu.Unlock()
	cc, _, err := tr.Exchange(ctx, wire.Target{}, wire.NetFnStorage, 0x20, nil)
	if err != nil || cc != 0xff {
		t.Errorf("BMC's own 0xFF: cc %v err %v, want cc 0xff and no error", cc, err)
	}
	// A bridged controller's 0xFF is its own business: no check, no error.
	n := len(d.requests())
	cc, _, err = tr.Exchange(ctx, wire.Target{Addr: 0x30}, wire.NetFnStorage, 0x20, nil)
	if err != nil || cc != 0xff || len(d.requests()) != n+1 {
		t.Errorf("bridged 0xFF: cc %v err %v, %d requests", cc, err, len(d.requests())-n)
	}
}

// A BMC that goes silent: the request ends with the caller's deadline.
func TestBMCSilent(t *testing.T) {
	tr, _ := newTestTransport(t, func(sentReq) (fakeMsg, bool) { return fakeMsg{}, false })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := ipmi.NewClient(tr).DeviceID(ctx)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	tr, _ := newTestTransport(t, func(sentReq) (fakeMsg, bool) { return fakeMsg{}, false })
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, errs[i] = tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, nil)
		}(i)
	}
	waitFor(t, func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return len(tr.pending) == 3 })
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("request %d: %v, want ErrClosed", i, err)
		}
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Exchange after Close: %v", err)
	}
}

// Replies the transport cannot use fail their request with ErrProtocol;
// messages that answer nothing of ours are dropped.
func TestBadReplies(t *testing.T) {
	tests := []struct {
		name string
		msg  func(sentReq) fakeMsg
	}{
		{"other command", func(r sentReq) fakeMsg { m := reply(r, 0); m.cmd++; return m }},
		{"request netfn", func(r sentReq) fakeMsg { m := reply(r, 0); m.netFn = r.netFn; return m }},
		{"no completion code", func(r sentReq) fakeMsg { return reply(r) }},
		{"truncated", func(r sentReq) fakeMsg { return reply(r, make([]byte, replyBufferSize+1)...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := newTestTransport(t, func(r sentReq) (fakeMsg, bool) { return tc.msg(r), true })
			_, _, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, nil)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
	t.Run("event and stranger dropped", func(t *testing.T) {
		var d *fakeDevice
		tr, d := newTestTransport(t, func(r sentReq) (fakeMsg, bool) {
			d.deliver(fakeMsg{recvType: recvTypeAsyncEvent, msgID: r.msgID, data: []byte{1, 2, 3}})
			d.deliver(reply(sentReq{msgID: 999, netFn: r.netFn, cmd: r.cmd}, 0))
			return echo(r)
		})
		_, data, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, nil)
		if err != nil || !bytes.Equal(data, []byte{0x01}) {
			t.Fatalf("data % x err %v", data, err)
		}
		if n := tr.Dropped(); n != 2 {
			t.Errorf("dropped %d, want 2", n)
		}
	})
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		errno syscall.Errno
		is    error
		text  string
	}{
		{syscall.ENODEV, ErrNoDevice, "modprobe ipmi_si"},
		{syscall.EBUSY, nil, "too many requests in flight"},
		{syscall.EINVAL, nil, "invalid argument"},
	}
	for _, tc := range tests {
		tr, d := newTestTransport(t, echo)
		d.sendErr = tc.errno
		_, _, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, nil)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.text) || !errors.Is(err, tc.errno) {
			t.Errorf("%v: got %v", tc.errno, err)
		}
		if len(tr.pending) != 0 {
			t.Errorf("%v: request left pending", tc.errno)
		}
	}
}

func TestBadRequests(t *testing.T) {
	tr, d := newTestTransport(t, echo)
	if _, _, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp|1, 0x01, nil); err == nil {
		t.Error("response netfn accepted")
	}
	if _, _, err := tr.Exchange(context.Background(), wire.Target{}, wire.NetFnApp, 0x01, make([]byte, maxRequestData+1)); err == nil {
		t.Error("oversized request accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := tr.Exchange(ctx, wire.Target{}, wire.NetFnApp, 0x01, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}
	if n := len(d.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "ipmi0")
	_, err := Open(Options{Device: missing})
	if !errors.Is(err, ErrNoDevice) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing device: %v", err)
	}
	for _, want := range []string{missing, "modprobe ipmi_msghandler", "modprobe ipmi_devintf", "modprobe ipmi_si"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing device error %q lacks %q", err, want)
		}
	}

	// A regular file is not an IPMI device (nor "missing").
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Device: regular}); err == nil || errors.Is(err, ErrNoDevice) {
		t.Errorf("regular file: %v", err)
	}

	// Permission denied (root ignores modes, so the error is built from
	// a synthetic EACCES on a real file).
	if err := os.Chmod(regular, 0o600); err != nil {
		t.Fatal(err)
	}
	err = openError(regular, &os.PathError{Op: "open", Path: regular, Err: syscall.EACCES})
	if !errors.Is(err, ErrPermission) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("permission: %v", err)
	}
	for _, want := range []string{regular, "owner ", "group ", "mode -rw-------", "user ", "groups "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("permission error %q lacks %q", err, want)
		}
	}
	if err := openError("/dev/ipmi0", &os.PathError{Op: "open", Path: "/dev/ipmi0", Err: syscall.ENXIO}); !errors.Is(err, ErrNoDevice) {
		t.Errorf("ENXIO (node without driver): %v", err)
	}
}

func TestOpenNotPollable(t *testing.T) {
	// /dev/null is a character device the poller cannot wait on: without
	// deadlines no wait could end with its context, so Open refuses it.
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip("no /dev/null")
	}
	tr, err := Open(Options{Device: "/dev/null"})
	if err == nil {
		tr.Close(context.Background())
		t.Fatal("opened /dev/null")
	}
	if errors.Is(err, ErrNoDevice) {
		t.Errorf("got %v", err)
	}
}

// waitFor polls cond (the tests' only polling: a state inside the
// transport, reached by other goroutines).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
