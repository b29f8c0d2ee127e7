package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version, revision and revisionTime (the commit's, RFC 3339) are stamped
// by scripts/release (-ldflags "-X main.version=…"); the linker sets them
// and nothing assigns them. Without them, a `go install` or `go build`
// binary answers from the module's build info.
var (
	version      string
	revision     string
	revisionTime string
)

// buildInfo is what `slotwatch version` prints.
type buildInfo struct {
	Version  string // v0.1.0, or (devel)
	Revision string // the VCS commit, "" when unknown
	Time     string // the commit's time (RFC 3339), "" when unknown
	Modified bool   // built from a tree with uncommitted changes
	Go       string // go1.26.8
	Platform string // linux/amd64
}

// currentBuild reads the binary's build info, the stamped values first.
func currentBuild() buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b = fromBuildInfo(bi, b)
	}
	return stamped(b, version, revision, revisionTime)
}

func fromBuildInfo(bi *debug.BuildInfo, b buildInfo) buildInfo {
	if v := bi.Main.Version; v != "" {
		b.Version = v
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// stamped overrides the build info with the release's -ldflags values; a
// stamped revision ending in -dirty was built from a modified tree.
func stamped(b buildInfo, version, revision, revisionTime string) buildInfo {
	if revisionTime != "" {
		b.Time = revisionTime
	}
	if version != "" {
		b.Version = version
	}
	if revision != "" {
		b.Revision, b.Modified = strings.TrimSuffix(revision, "-dirty"), strings.HasSuffix(revision, "-dirty")
	}
	return b
}

func (b buildInfo) String() string {
	rev := b.Revision
	if rev == "" {
		rev = "unknown"
	}
	if b.Modified {
		rev += " (modified)"
	}
	if b.Time != "" {
		rev += ", " + b.Time
	}
	return fmt.Sprintf("slotwatch %s\nrevision %s\n%s %s\n", b.Version, rev, b.Go, b.Platform)
}

func isVersion(arg string) bool { return arg == "--version" || arg == "-version" }

// runVersion is `slotwatch version` and `slotwatch --version`.
func runVersion(_ context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "version")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: version takes no arguments, got %s.\n", display(fs.Arg(0)))
		return exitUsage
	}
	fmt.Fprint(env.stdout, currentBuild())
	return exitOK
}
