// Package prometheus holds the shipped Prometheus rules; this test runs
// promtool over them so `go test ./...` checks them.
package prometheus

import (
	"os/exec"
	"path/filepath"
	"testing"
)

func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus); the rule files were not checked")
	}
	return path
}

func TestRuleFilesAreValid(t *testing.T) {
	bin := promtool(t)
	files, err := filepath.Glob("*-rules.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("rule files: %v %v", files, err)
	}
	out, err := exec.Command(bin, append([]string{"check", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestRuleUnitTests runs the promtool unit tests, among them the proof that
// the team's original rule returns nothing at 95/100 and the corrected one
// fires.
func TestRuleUnitTests(t *testing.T) {
	bin := promtool(t)
	tests, err := filepath.Glob("*_test.yaml")
	if err != nil || len(tests) < 2 {
		t.Fatalf("promtool tests: %v %v", tests, err)
	}
	out, err := exec.Command(bin, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
