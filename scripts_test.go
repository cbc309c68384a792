package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestSummary runs `go test -json` over a throw-away module with
// passing, failing and skipping tests and subtests through
// scripts/testsummary.go, which scripts/test.sh pipes the suite through:
// the summary counts every test and lists each skip with its reason
// (without -v, skips were invisible).
func TestTestSummary(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/sum\n\ngo 1.22\n",
		"a/a_test.go": `package a

import "testing"

func TestPass(t *testing.T) {}

func TestSkipTool(t *testing.T) { t.Skip("ipmitool not installed") }

func TestFail(t *testing.T) { t.Error("wrong answer 42") }

func TestSubs(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("short", func(t *testing.T) {
		if testing.Short() {
			t.Skip("slow: skipped in -short mode")
		}
	})
}
`,
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestB(t *testing.T) { t.Log(\"quiet\") }\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	summarizer := filepath.Join(t.TempDir(), "testsummary")
	if out, err := exec.Command("go", "build", "-o", summarizer, filepath.Join("scripts", "testsummary.go")).CombinedOutput(); err != nil {
		t.Fatalf("building scripts/testsummary.go: %v\n%s", err, out)
	}
	goTest := exec.Command("go", "test", "-count=1", "-short", "-json", "./...")
	goTest.Dir = dir
	var stream bytes.Buffer
	goTest.Stdout, goTest.Stderr = &stream, &stream
	if err := goTest.Run(); err == nil {
		t.Fatal("go test passed with a failing test")
	}
	sum := exec.Command(summarizer)
	sum.Stdin = &stream
	out, err := sum.CombinedOutput()
	if err != nil {
		t.Fatalf("testsummary: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"wrong answer 42", // a failing test's output
		"--- FAIL: TestFail",
		"ok  \texample.com/sum/b", // package lines
		"FAIL\texample.com/sum/a",
		"7 tests ran (subtests included): 4 passed, 1 failed, 2 skipped",
		"example.com/sum/a TestSkipTool: a_test.go:7: ipmitool not installed",
		"example.com/sum/a TestSubs/short: a_test.go:15: slow: skipped in -short mode",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "quiet") {
		t.Errorf("a passing test's log was printed:\n%s", text)
	}
}
