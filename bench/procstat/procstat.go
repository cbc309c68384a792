// Package procstat samples a process (and optionally its descendants) from
// /proc for benchmarks: CPU seconds, resident memory, open file descriptors
// and sockets.
//
// CPU of a process tree is counted as the root's utime+stime plus
// cutime+cstime (children it has already waited for, recursively) plus the
// utime+stime+cutime+cstime of descendants still alive at the time of the
// sample. That is exact for exporters that fork short-lived tools and wait
// for them, as the FreeIPMI based exporter does, up to the sampling of
// children that are alive across a sample boundary (they are counted then,
// and again in cutime once reaped, but their CPU before the earlier sample
// cancels out when two samples are subtracted).
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports.
const ClockTicks = 100

// Sample is one reading of a process (tree).
type Sample struct {
	At time.Time `json:"at"`
	// CPU is user+system seconds of the process, plus reaped children
	// (cutime+cstime) and, with Tree, live descendants.
	CPU float64 `json:"cpu_seconds"`
	// SelfCPU is the process's own utime+stime, without children.
	SelfCPU float64 `json:"self_cpu_seconds"`
	// RSS is the process's VmRSS; TreeRSS adds live descendants' VmRSS.
	RSS     int64 `json:"rss_bytes"`
	TreeRSS int64 `json:"tree_rss_bytes"`
	// HWM is the process's VmHWM (peak RSS over its life).
	HWM int64 `json:"hwm_bytes"`
	// FDs counts open file descriptors, Sockets those that are sockets,
	// both summed over the tree with Tree.
	FDs     int `json:"fds"`
	Sockets int `json:"sockets"`
	Threads int `json:"threads"`
	// Procs is the number of processes in the tree (1 without Tree).
	Procs int `json:"procs"`
}

// stat holds the fields of /proc/PID/stat that matter here.
type stat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
	threads                      int
}

// ErrGone is returned when the process no longer exists.
var ErrGone = errors.New("procstat: process is gone")

func readStat(root string, pid int) (stat, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return stat{}, ErrGone
		}
		return stat{}, err
	}
	return parseStat(b)
}

// parseStat parses /proc/PID/stat. The command name (field 2) may contain
// spaces and parentheses, so fields are counted after the last ')'.
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("procstat: malformed stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 20-2 {
		return stat{}, fmt.Errorf("procstat: short stat %q", b)
	}
	num := func(field int) int64 {
		v, _ := strconv.ParseInt(f[field-3], 10, 64)
		return v
	}
	return stat{
		ppid:    int(num(4)),
		utime:   num(14),
		stime:   num(15),
		cutime:  num(16),
		cstime:  num(17),
		threads: int(num(20)),
	}, nil
}

// readStatus returns VmRSS and VmHWM in bytes.
func readStatus(root string, pid int) (rss, hwm int64, err error) {
	f, err := os.Open(filepath.Join(root, strconv.Itoa(pid), "status"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, 0, ErrGone
		}
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			*dst = kb * 1024
		}
	}
	return rss, hwm, sc.Err()
}

// countFDs returns the number of open descriptors and of sockets.
func countFDs(root string, pid int) (fds, sockets int) {
	dir := filepath.Join(root, strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		fds++
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			sockets++
		}
	}
	return fds, sockets
}

// descendants returns the live descendants of pid.
func descendants(root string, pid int) []int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(root, p)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func ticks(t int64) float64 { return float64(t) / ClockTicks }

// Read samples pid; with tree, live descendants are added.
func Read(pid int, tree bool) (Sample, error) { return read("/proc", pid, tree) }

func read(root string, pid int, tree bool) (Sample, error) {
	s := Sample{At: time.Now(), Procs: 1}
	st, err := readStat(root, pid)
	if err != nil {
		return s, err
	}
	s.SelfCPU = ticks(st.utime + st.stime)
	s.CPU = ticks(st.utime + st.stime + st.cutime + st.cstime)
	s.Threads = st.threads
	if s.RSS, s.HWM, err = readStatus(root, pid); err != nil {
		return s, err
	}
	s.TreeRSS = s.RSS
	s.FDs, s.Sockets = countFDs(root, pid)
	if !tree {
		return s, nil
	}
	for _, c := range descendants(root, pid) {
		cst, err := readStat(root, c)
		if err != nil {
			continue // exited meanwhile: its CPU shows up in cutime
		}
		rss, _, _ := readStatus(root, c)
		fds, socks := countFDs(root, c)
		// Only the child's own time: its reaped children are in its
		// cutime, but those of a live child are added here too.
		s.CPU += ticks(cst.utime + cst.stime + cst.cutime + cst.cstime)
		s.TreeRSS += rss
		s.FDs += fds
		s.Sockets += socks
		s.Threads += cst.threads
		s.Procs++
	}
	return s, nil
}

// Sampler reads a process periodically and keeps peaks.
type Sampler struct {
	pid  int
	tree bool
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	first Sample
	last  Sample
	peak  Peaks
	n     int
	err   error
}

// Peaks are maxima over the samples taken.
type Peaks struct {
	RSS     int64 `json:"rss_bytes"`
	TreeRSS int64 `json:"tree_rss_bytes"`
	FDs     int   `json:"fds"`
	Sockets int   `json:"sockets"`
	Procs   int   `json:"procs"`
	Threads int   `json:"threads"`
}

// Start samples pid every interval until Stop.
func Start(pid int, tree bool, every time.Duration) (*Sampler, error) {
	first, err := Read(pid, tree)
	if err != nil {
		return nil, err
	}
	s := &Sampler{pid: pid, tree: tree, stop: make(chan struct{}), done: make(chan struct{}), first: first}
	s.record(first)
	go s.loop(every)
	return s, nil
}

func (s *Sampler) record(x Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = x
	s.n++
	s.peak.RSS = max(s.peak.RSS, x.RSS)
	s.peak.TreeRSS = max(s.peak.TreeRSS, x.TreeRSS)
	s.peak.FDs = max(s.peak.FDs, x.FDs)
	s.peak.Sockets = max(s.peak.Sockets, x.Sockets)
	s.peak.Procs = max(s.peak.Procs, x.Procs)
	s.peak.Threads = max(s.peak.Threads, x.Threads)
}

func (s *Sampler) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			x, err := Read(s.pid, s.tree)
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			s.record(x)
		}
	}
}

// Now takes a sample at once (and records it), for phase boundaries.
func (s *Sampler) Now() (Sample, error) {
	x, err := Read(s.pid, s.tree)
	if err != nil {
		return x, err
	}
	s.record(x)
	return x, nil
}

// Peaks returns the maxima so far and resets them, so that each phase of
// a benchmark gets its own.
func (s *Sampler) Peaks() Peaks {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	s.peak = Peaks{}
	return p
}

// Stop ends sampling and returns the last error, if the process vanished.
func (s *Sampler) Stop() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
