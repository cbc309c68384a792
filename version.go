package main

import (
	"runtime/debug"
	"strings"

	"github.com/prometheus/common/version"
)

// Release builds set version.Version, Revision, Branch, BuildUser and
// BuildDate with -ldflags -X (README, Install; the Dockerfile sets Version
// and Revision). A plain `go build` in a checkout sets none of them, and
// the exporter reported "version=, branch=, revision=unknown". What Go
// stamps into every build from a checkout (the main module's version,
// derived from the commit and tags since Go 1.24, and vcs.revision) fills
// the gaps; ldflags win where given.

// buildVersion returns the version and revision to report when ldflags did
// not set them, from the build information Go embeds.
func buildVersion(bi *debug.BuildInfo) (ver, rev string) {
	ver, rev = "devel", "unknown"
	if bi == nil {
		return ver, rev
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch v := bi.Main.Version; {
	case v != "" && v != "(devel)":
		// v1.2.3, or a pseudo-version v0.0.0-20261204155419-88c3979abcde
		// (+dirty for uncommitted changes).
		ver = strings.TrimPrefix(v, "v")
	case rev != "unknown":
		ver = "devel-" + rev[:min(12, len(rev))]
		if modified {
			ver += "+dirty"
		}
	}
	if modified && rev != "unknown" {
		rev += "-dirty"
	}
	return ver, rev
}

// fillVersion sets what ldflags left empty (before anything prints it).
func fillVersion() {
	bi, _ := debug.ReadBuildInfo()
	ver, rev := buildVersion(bi)
	if version.Version == "" {
		version.Version = ver
	}
	if version.Revision == "" {
		version.Revision = rev
	}
	if version.Branch == "" {
		version.Branch = "unknown"
	}
}
