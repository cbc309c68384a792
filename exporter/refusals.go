package exporter

import (
	"sync"
	"time"

	"github.com/ipmifleet/ipmi_fleet_exporter/config"
	"github.com/ipmifleet/ipmi_fleet_exporter/pool"
)

// AuthRetryInterval is how long a (target, module) whose login the BMC
// refused (wrong user, password or K_G, no cipher suite, privilege) is
// not logged into again after its first refusal. Each further refusal in
// a row doubles it, up to MaxAuthRetryInterval. A reload that changes
// the module's credentials starts afresh.
//
// So a wrong password costs a BMC account at most 5 failed logins in the
// first hour (at 0, 2, 6, 14 and 30 minutes) and 2 an hour after that,
// per module, whatever the scrape interval: below the lockout thresholds
// BMCs ship with (typically 3-5 failures within minutes).
const (
	AuthRetryInterval    = 2 * time.Minute
	MaxAuthRetryInterval = 30 * time.Minute
)

// maxRefusals bounds the refusals remembered; past it, those whose retry
// time has passed are forgotten.
const maxRefusals = 1 << 16

// refusal is the state of a (target, module) whose logins the BMC refused.
type refusal struct {
	module   *config.Module // the settings that were refused
	err      error          // the last refusal
	failures int            // in a row
	retryAt  time.Time
}

// refusals remembers refused logins apart from the pool's entries, which
// are forgotten after idle_timeout: the back-off must hold however the
// pool is configured.
type refusals struct {
	mu sync.Mutex
	m  map[pool.Key]*refusal
}

// blocked returns the refusal that forbids logging in to key with module
// m now, or nil.
func (r *refusals) blocked(key pool.Key, m *config.Module, now time.Time) *refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf := r.m[key]
	if rf == nil {
		return nil
	}
	if rf.module != m && !sameSessionSettings(rf.module, m) {
		// New credentials or settings: start afresh.
		delete(r.m, key)
		return nil
	}
	if !now.Before(rf.retryAt) {
		return nil
	}
	copied := *rf
	return &copied
}

// refused records a refused login and returns when to try again.
func (r *refusals) refused(key pool.Key, m *config.Module, err error, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[pool.Key]*refusal{}
	}
	rf := r.m[key]
	if rf == nil || (rf.module != m && !sameSessionSettings(rf.module, m)) {
		if len(r.m) >= maxRefusals {
			for k, old := range r.m {
				if !now.Before(old.retryAt) {
					delete(r.m, k)
				}
			}
		}
		rf = &refusal{}
		r.m[key] = rf
	}
	rf.module, rf.err = m, err
	rf.failures++
	wait := AuthRetryInterval << min(rf.failures-1, 10)
	rf.retryAt = now.Add(min(wait, MaxAuthRetryInterval))
	return rf.retryAt
}

// accepted forgets key's refusals after a login that worked.
func (r *refusals) accepted(key pool.Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}
