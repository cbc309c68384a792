package main

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		ver, rev string
	}{
		{"no build info", nil, "devel", "unknown"},
		{"no VCS (-buildvcs=false)", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel", "unknown"},
		{"tagged checkout", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"},
			Settings: settings("vcs.revision", "88c3979abcdef0123456789abcdef0123456789a", "vcs.modified", "false")},
			"1.4.0", "88c3979abcdef0123456789abcdef0123456789a"},
		{"pseudo-version, dirty", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204155419-88c3979abcde+dirty"},
			Settings: settings("vcs.revision", "88c3979abcdef0123456789abcdef0123456789a", "vcs.modified", "true")},
			"0.0.0-20261204155419-88c3979abcde+dirty", "88c3979abcdef0123456789abcdef0123456789a-dirty"},
		{"revision without a module version", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "88c3979abcdef0123456789abcdef0123456789a")},
			"devel-88c3979abcde", "88c3979abcdef0123456789abcdef0123456789a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ver, rev := buildVersion(tc.bi)
			if ver != tc.ver || rev != tc.rev {
				t.Errorf("got %q, %q; want %q, %q", ver, rev, tc.ver, tc.rev)
			}
		})
	}
}

// TestVersionFlagWithoutLdflags: the test build sets no ldflags; --version
// names a version and a branch all the same (it printed "version  (branch: ,
// revision: unknown)").
func TestVersionFlagWithoutLdflags(t *testing.T) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	first := strings.SplitN(string(out), "\n", 2)[0]
	if strings.Contains(first, "version  ") || strings.Contains(first, "branch: ,") {
		t.Fatalf("--version without ldflags: %s", out)
	}
}
