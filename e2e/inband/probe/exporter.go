package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// exporterAddr is where the exporter listens inside the VM (loopback: the
// VM has no other network).
const exporterAddr = "127.0.0.1:9290"

// runExporter starts /exporter (the exporter binary, as shipped) with
// /etc/ipmi_fleet_exporter.yml and --local.module=local, waits until it is
// ready and prints, between markers, what it answers: /ipmi?module=local
// (no target) cold, /metrics (local mode), a debug scrape of a module
// whose device is missing and a target given to an in-band module. Then
// it times warm scrapes of /ipmi?module=local: wall time per scrape, and
// the exporter process's CPU time (user and system, all threads, from
// /proc/PID/stat) per scrape.
func runExporter(warm int) error {
	// The device node appears a moment after ipmi_si is loaded; the
	// exporter would start without it (and answer ipmi_up 0).
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat("/dev/ipmi0"); err == nil {
			break
		} else if time.Now().After(end) {
			return err
		}
	}
	var logs lockedBuffer
	cmd := exec.Command("/exporter", "--config.file=/etc/ipmi_fleet_exporter.yml", "--local.module=local",
		"--web.listen-address="+exporterAddr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			fmt.Printf("EXPORTER-LOG %s\n", l)
		}
	}()
	start := time.Now()
	for {
		code, _, err := get("/-/ready")
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Since(start) > 60*time.Second {
			return fmt.Errorf("exporter not ready after %v: %v", time.Since(start), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("EXPORTER-READY after_ms=%.0f\n", ms(time.Since(start)))

	show := func(marker, path string, want int) error {
		t0 := time.Now()
		code, body, err := get(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Printf("EXPORTER-%s-BEGIN status=%d wall_ms=%.1f\n", marker, code, ms(time.Since(t0)))
		fmt.Print(body)
		if !strings.HasSuffix(body, "\n") {
			fmt.Println()
		}
		fmt.Printf("EXPORTER-%s-END\n", marker)
		if code != want {
			return fmt.Errorf("%s: HTTP %d, want %d", path, code, want)
		}
		return nil
	}
	for _, s := range []struct {
		marker, path string
		code         int
	}{
		{"IPMI", "/ipmi?module=local", http.StatusOK},
		{"METRICS", "/metrics", http.StatusOK},
		{"MISSING", "/ipmi?module=missing&debug=true", http.StatusOK},
		{"TARGET", "/ipmi?module=local&target=10.0.0.1", http.StatusBadRequest},
	} {
		if err := show(s.marker, s.path, s.code); err != nil {
			return err
		}
	}

	if warm > 0 {
		cpu0, err := processCPU(cmd.Process.Pid)
		if err != nil {
			return err
		}
		t0 := time.Now()
		for i := 0; i < warm; i++ {
			code, body, err := get("/ipmi?module=local")
			if err != nil || code != http.StatusOK || !strings.Contains(body, `ipmi_up{collector="ipmi"} 1`) {
				return fmt.Errorf("warm scrape %d: HTTP %d, %v", i, code, err)
			}
		}
		wall := time.Since(t0)
		cpu1, err := processCPU(cmd.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("EXPORTER-WARM scrapes=%d wall_ms_per_scrape=%.1f cpu_ms_per_scrape=%.1f\n",
			warm, ms(wall)/float64(warm), ms(cpu1-cpu0)/float64(warm))
	}
	return nil
}

func get(path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+exporterAddr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// processCPU is the user plus system time of every thread of pid, from
// fields 14 and 15 of /proc/PID/stat (clock ticks of 1/100 s, USER_HZ on
// x86).
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
