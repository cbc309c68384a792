package main

import (
	"os"
	"path/filepath"
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

// TestREADMEFuzzCommands: every `go test -fuzz` command in the README works
// as written: one package (go test refuses -fuzz over several), and a
// pattern matching exactly one fuzz target in it.
func TestREADMEFuzzCommands(t *testing.T) {
	cmds := regexp.MustCompile(`go test [^\n`+"`"+`]*-fuzz[= ][^\n`+"`"+`]*`).FindAllString(readme(t), -1)
	if len(cmds) == 0 {
		t.Fatal("README shows no go test -fuzz command")
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w*)\(`)
	for _, cmd := range cmds {
		fields := strings.Fields(cmd)
		var pattern string
		var pkgs []string
		for i := 2; i < len(fields); i++ {
			f := fields[i]
			switch {
			case strings.HasPrefix(f, "-fuzz="):
				pattern = strings.Trim(strings.TrimPrefix(f, "-fuzz="), `'"`)
			case f == "-fuzz" && i+1 < len(fields):
				i++
				pattern = strings.Trim(fields[i], `'"`)
			case !strings.HasPrefix(f, "-"):
				pkgs = append(pkgs, f)
			}
		}
		if len(pkgs) != 1 || strings.Contains(pkgs[0], "...") {
			t.Errorf("%q: -fuzz needs exactly one package, got %q", cmd, pkgs)
			continue
		}
		re, err := regexp.Compile(pattern)
		if err != nil || pattern == "" {
			t.Errorf("%q: fuzz pattern %q: %v", cmd, pattern, err)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(filepath.FromSlash(pkgs[0]), "*_test.go"))
		var matched []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range fuzzFunc.FindAllStringSubmatch(string(b), -1) {
				if re.MatchString(m[1]) {
					matched = append(matched, m[1])
				}
			}
		}
		if len(matched) != 1 {
			t.Errorf("%q: the pattern matches fuzz targets %q in %s; go test fuzzes exactly one", cmd, matched, pkgs[0])
		}
	}
}
