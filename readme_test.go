package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEStatesGoVersion: the Install section names the Go version
// go.mod requires.
func TestREADMEStatesGoVersion(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("no go line in go.mod")
	}
	r := readme(t)
	install := r[strings.Index(r, "## Install"):]
	install = install[:strings.Index(install[1:], "\n## ")+1]
	if !strings.Contains(install, "Go "+string(m[1])) {
		t.Errorf("README's Install section does not say Go %s (go.mod)", m[1])
	}
}
