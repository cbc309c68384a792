package model

import (
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/command"
	"github.com/ipmifleet/ipmi_fleet_exporter/ipmi/wire"
)

// watchdogState is the BMC watchdog timer (IPMI v2.0 section 27). The
// countdown is computed from the clock when asked, so a running watchdog
// costs nothing between requests. On expiry the timer stops and the
// expiration flag of its timer use is set; the timeout action itself
// (reset, power down) is not simulated beyond that.
type watchdogState struct {
	cfg         command.WatchdogConfig
	initialized bool // Set Watchdog Timer was received
	running     bool
	started     time.Time // when the countdown last (re)started
	expired     command.WatchdogExpirationFlags
}

// defaultWatchdog is a BMC's watchdog after power-on: SMS/OS use, stopped,
// no action, as most BMCs report before anything set it.
var defaultWatchdog = command.WatchdogConfig{Use: command.WatchdogUseSMSOS}

// present returns the countdown left (100 ms units) at now, and applies an
// expiry that happened since the last look.
func (w *watchdogState) present(now time.Time) uint16 {
	if !w.running {
		return w.cfg.InitialCountdown
	}
	elapsed := uint64(now.Sub(w.started) / (100 * time.Millisecond))
	if elapsed < uint64(w.cfg.InitialCountdown) {
		return w.cfg.InitialCountdown - uint16(elapsed)
	}
	w.running = false
	w.expired |= 1 << w.cfg.Use
	return 0
}

func (b *BMC) getWatchdogTimer(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	w := &b.watchdog
	if !w.initialized {
		w.cfg, w.initialized = defaultWatchdog, true
	}
	left := w.present(b.clock())
	resp := command.GetWatchdogTimerResponse{WatchdogConfig: w.cfg, Running: w.running, Expired: w.expired, PresentCountdown: left}
	b.mu.Unlock()
	return respond(&resp, 8)
}

func (b *BMC) setWatchdogTimer(_ *controllerDef, _ uint8, data []byte) (wire.CompletionCode, []byte) {
	var req command.SetWatchdogTimerRequest
	if err := req.Unmarshal(data); err != nil {
		return decodeError(err), nil
	}
	if req.Interrupt != command.WatchdogInterruptNone && uint32(req.PretimeoutInterval)*10 > uint32(req.InitialCountdown) {
		return wire.CCInvalidDataField, nil // pre-timeout after the timeout
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w := &b.watchdog
	now := b.clock()
	w.present(now)
	w.cfg, w.initialized = req.WatchdogConfig, true
	w.expired &^= req.ClearExpired
	if w.running {
		if req.DontStop {
			w.started = now // a set on a running timer restarts the countdown
		} else {
			w.running = false
		}
	}
	return wire.CCOK, []byte{}
}

func (b *BMC) resetWatchdogTimer(_ *controllerDef, _ uint8, _ []byte) (wire.CompletionCode, []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := &b.watchdog
	if !w.initialized {
		return command.CCWatchdogNotInitialized, nil
	}
	w.running, w.started = true, b.clock()
	return wire.CCOK, []byte{}
}
