package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	code, out, errOut := runQuiet(t, "--version")
	if code != exitOK || errOut != "" || !strings.HasPrefix(out, "slotwatch ") ||
		!strings.Contains(out, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) || !strings.Contains(out, "\nrevision ") {
		t.Fatalf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, same, _ := runQuiet(t, "version"); code != exitOK || same != out {
		t.Errorf("version: exit %d, %q differs from --version's %q", code, same, out)
	}
	if code, _, errOut := runQuiet(t, "version", "extra"); code != exitUsage || !strings.Contains(errOut, "takes no arguments") {
		t.Errorf("version extra: exit %d %q", code, errOut)
	}
}

// TestVersionFromBuildInfo: a go install build says its module version
// and VCS stamp; the release's -ldflags values win over them.
func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	b := fromBuildInfo(bi, buildInfo{Version: "(devel)", Platform: "linux/arm64"})
	if got, want := b.String(), "slotwatch v1.2.3\nrevision abc123 (modified), 2026-12-01T10:00:00Z\ngo1.99.0 linux/arm64\n"; got != want {
		t.Errorf("from build info:\n%q, want\n%q", got, want)
	}
	s := stamped(b, "v2.0.0", "def456", "2026-12-07T09:00:00+00:00")
	if got, want := s.String(), "slotwatch v2.0.0\nrevision def456, 2026-12-07T09:00:00+00:00\ngo1.99.0 linux/arm64\n"; got != want {
		t.Errorf("stamped:\n%q, want\n%q", got, want)
	}
	if s := stamped(b, "", "def456-dirty", ""); !s.Modified || s.Revision != "def456" || s.Version != "v1.2.3" || s.Time != b.Time {
		t.Errorf("a dirty stamp: %+v", s)
	}
	if got := (buildInfo{Version: "(devel)", Go: "go1", Platform: "p"}).String(); !strings.Contains(got, "revision unknown") {
		t.Errorf("no revision: %q", got)
	}
}

// TestReleaseLdflagsStampTheBinary builds the binary as scripts/release
// does and reads --version from it.
func TestReleaseLdflagsStampTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "slotwatch")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "-ldflags",
		"-X main.version=v9.8.7 -X main.revision=0123456789abcdef-dirty -X main.revisionTime=2026-12-07T09:00:00Z", ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "slotwatch v9.8.7\nrevision 0123456789abcdef (modified), 2026-12-07T09:00:00Z\n" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if string(out) != want {
		t.Errorf("--version of the stamped binary:\n%q, want\n%q", out, want)
	}
}
