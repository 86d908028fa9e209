// Package buildinfo holds what a binary knows about its own build: the
// version, commit and build date a release build sets with -ldflags
// (scripts/release.sh), or, in a plain `go build` from a checkout, what the
// Go toolchain stamped from version control.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set by a release build:
//
//	-ldflags "-X github.com/parleychat/parley/internal/buildinfo.version=v1.2.3
//	          -X github.com/parleychat/parley/internal/buildinfo.commit=<sha>
//	          -X github.com/parleychat/parley/internal/buildinfo.date=<RFC 3339>"
var (
	version string
	commit  string
	date    string
)

// Info is the build of the running binary.
type Info struct {
	// Version is the release (a tag such as v1.2.3), or "dev" for a build
	// that was not given one.
	Version string
	// Commit is the full commit hash the binary was built from, with a
	// "-dirty" suffix when the work tree had changes; "unknown" without
	// version control information (go run, go test, -buildvcs=false).
	Commit string
	// Date is when the commit was made (RFC 3339, UTC), which a release
	// build uses as its build date so that two builds of one commit are
	// byte-identical; "unknown" when not known.
	Date string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

var (
	once sync.Once
	info Info
)

// Get returns the running binary's build.
func Get() Info {
	once.Do(func() { info = read(version, commit, date, debug.ReadBuildInfo) })
	return info
}

// read fills in what the linker flags left empty from the toolchain's
// build information.
func read(version, commit, date string, bi func() (*debug.BuildInfo, bool)) Info {
	i := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if b, ok := bi(); ok {
		if b.GoVersion != "" {
			i.GoVersion = b.GoVersion
		}
		var rev, at string
		var dirty bool
		for _, s := range b.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if i.Commit == "" && rev != "" {
			i.Commit = rev
			if dirty {
				i.Commit += "-dirty"
			}
		}
		if i.Date == "" {
			i.Date = at
		}
		// `go install module@v1.2.3` records the module's version.
		if i.Version == "" && b.Main.Version != "" && b.Main.Version != "(devel)" {
			i.Version = b.Main.Version
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}

// String is what `parley version` prints: one line.
func (i Info) String() string {
	return fmt.Sprintf("parley %s (commit %s, built %s, %s)", i.Version, i.Commit, i.Date, i.GoVersion)
}
