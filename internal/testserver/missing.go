package testserver

import (
	"os"
	"testing"
)

// RequireServersEnv, set to 1, turns a missing server binary from a skip
// into a failure. scripts/test sets it, so CI can never pass by skipping;
// a contributor's first plain `go test ./...` skips with the package to
// install instead of failing in every package.
const RequireServersEnv = "SLOTWATCH_REQUIRE_SERVERS"

// Missing stops the test because a program it needs is not installed:
// a failure under RequireServersEnv=1, otherwise a skip naming the Debian
// package to install.
func Missing(t testing.TB, program, debianPackage string) {
	t.Helper()
	msg := program + " is not installed: run `apt-get install " + debianPackage + "` (or scripts/test, which installs it)"
	if os.Getenv(RequireServersEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
