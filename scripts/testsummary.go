//go:build ignore

// testsummary reads `go test -json` on stdin and writes what `go test`
// prints without -v (each package's ok/FAIL line, the output of failing
// tests, build errors), then a summary: how many tests ran, passed, failed
// and were skipped, with every skipped test and the reason it gave.
// scripts/test.sh pipes the test run through it; the exit status stays go
// test's (this exits 0 unless its own input or output fails).
//
//	go test -json ./... | go run scripts/testsummary.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output events
	FailedBuild string
}

type testKey struct{ pkg, test string }

type skip struct {
	testKey
	reason string
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	outputs := map[testKey]*strings.Builder{}
	var passed, failed int
	var skips []skip
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event (go vet or the toolchain on stderr): as is.
			fmt.Fprintf(w, "%s\n", line)
			w.Flush()
			continue
		}
		if e.Action == "build-output" {
			fmt.Fprint(w, e.Output)
			continue
		}
		if e.Test == "" {
			// Package level: "ok  pkg 1.2s", "FAIL", panics outside tests.
			if e.Action == "output" {
				fmt.Fprint(w, e.Output)
				w.Flush()
			}
			continue
		}
		k := testKey{e.Package, e.Test}
		switch e.Action {
		case "output":
			if strings.HasPrefix(e.Output, "=== ") {
				continue // RUN, PAUSE, CONT: -v's progress lines
			}
			b := outputs[k]
			if b == nil {
				b = &strings.Builder{}
				outputs[k] = b
			}
			b.WriteString(e.Output)
		case "pass":
			passed++
			delete(outputs, k)
		case "fail":
			failed++
			// Each test's own lines; a failing subtest's come before
			// its parent's "--- FAIL".
			if b := outputs[k]; b != nil {
				fmt.Fprint(w, b.String())
			}
			delete(outputs, k)
		case "skip":
			skips = append(skips, skip{k, skipReason(outputs[k])})
			delete(outputs, k)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d tests ran (subtests included): %d passed, %d failed, %d skipped\n",
		passed+failed+len(skips), passed, failed, len(skips))
	if len(skips) > 0 {
		sort.Slice(skips, func(i, j int) bool {
			if skips[i].pkg != skips[j].pkg {
				return skips[i].pkg < skips[j].pkg
			}
			return skips[i].test < skips[j].test
		})
		fmt.Fprintln(w, "Skipped:")
		for _, s := range skips {
			fmt.Fprintf(w, "  %s %s: %s\n", s.pkg, s.test, s.reason)
		}
	}
	return nil
}

// skipReason is what a skipped test logged, without the === and --- lines
// go test adds: the t.Skip message and anything logged before it.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var parts []string
	for _, l := range strings.Split(b.String(), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " | ")
}
