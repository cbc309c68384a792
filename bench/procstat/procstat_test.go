package procstat

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	b := []byte("1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 5 0 100 1000 200")
	st, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 1 || st.utime != 250 || st.stime != 50 || st.cutime != 7 || st.cstime != 3 || st.threads != 5 {
		t.Fatalf("got %+v", st)
	}
	if _, err := parseStat([]byte("1 (x) S 1")); err == nil {
		t.Fatal("short stat accepted")
	}
}

func TestReadSelfAndTree(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(50 * time.Millisecond)
	self, err := Read(os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	if self.RSS <= 0 || self.FDs <= 0 || self.Procs != 1 {
		t.Fatalf("self sample %+v", self)
	}
	tree, err := Read(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Procs < 2 || tree.TreeRSS <= self.RSS/2 {
		t.Fatalf("tree sample %+v (self %+v)", tree, self)
	}
	s, err := Start(os.Getpid(), true, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, err := s.Now(); err != nil {
		t.Fatal(err)
	}
	if p := s.Peaks(); p.Procs < 2 || p.RSS <= 0 {
		t.Fatalf("peaks %+v", p)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(1<<30, false); err != ErrGone {
		t.Fatalf("missing pid: %v", err)
	}
}
