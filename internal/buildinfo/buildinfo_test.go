package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestLinkerFlagsWinOverVCS(t *testing.T) {
	bi := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.99", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2020-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
		}}, true
	}
	got := read("v1.2.3", "def456", "2021-01-01T00:00:00Z", bi)
	want := Info{Version: "v1.2.3", Commit: "def456", Date: "2021-01-01T00:00:00Z", GoVersion: "go1.99"}
	if got != want {
		t.Fatalf("with ldflags: %+v, want %+v", got, want)
	}
	got = read("", "", "", bi)
	want = Info{Version: "dev", Commit: "abc123-dirty", Date: "2020-01-02T03:04:05Z", GoVersion: "go1.99"}
	if got != want {
		t.Fatalf("from the VCS stamp: %+v, want %+v", got, want)
	}
	got = read("", "", "", func() (*debug.BuildInfo, bool) { return nil, false })
	if got.Version != "dev" || got.Commit != "unknown" || got.Date != "unknown" || got.GoVersion == "" {
		t.Fatalf("with nothing known: %+v", got)
	}
}
