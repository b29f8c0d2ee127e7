package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const serviceUnit = "../../deploy/systemd/slotwatch-serve.service"

// unitSettings are a unit file's Key=value lines, values in order.
func unitSettings(t *testing.T, text string) map[string][]string {
	t.Helper()
	settings := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a setting: %q", line)
		}
		settings[k] = append(settings[k], v)
	}
	return settings
}

// TestServiceUnit: the unit runs serve with flags serve has, as its own
// user with its state directory, sandboxed, restarted on failure; it has no
// reload (serve re-reads authorized_keys on every login, and SIGHUP ends
// it); its Documentation= pages are among the generated ones.
func TestServiceUnit(t *testing.T) {
	data, err := os.ReadFile(serviceUnit)
	if err != nil {
		t.Fatal(err)
	}
	s := unitSettings(t, string(data))
	for k, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "slotwatch", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "Restart": "on-failure", "Environment": "XDG_STATE_HOME=%S",
		"CapabilityBoundingSet": "",
	} {
		if got := s[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if _, ok := s["ExecReload"]; ok {
		t.Error("ExecReload: serve re-reads the authorized keys per login and SIGHUP stops it; a reload would stop the service")
	}
	args := strings.Fields(s["ExecStart"][0])
	if args[0] != "/usr/bin/slotwatch" || args[1] != "serve" {
		t.Fatalf("ExecStart=%v", args)
	}
	flags := describe(command{name: "serve", run: runServe}).flags
	for _, a := range args[2:] {
		if name, ok := strings.CutPrefix(a, "--"); ok && flags.Lookup(name) == nil {
			t.Errorf("ExecStart passes %s, which serve does not have", a)
		}
	}
	pages := map[string]bool{}
	for _, p := range manPages(buildInfo{}) {
		pages[strings.TrimSuffix(p.name, ".1")+"(1)"] = true
	}
	for _, doc := range strings.Fields(s["Documentation"][0]) {
		if !pages[strings.TrimPrefix(doc, "man:")] {
			t.Errorf("Documentation=%s is not a generated page", doc)
		}
	}
}

// TestServiceUnitVerifies runs systemd-analyze verify on the unit, its
// ExecStart pointed at an executable that exists here.
func TestServiceUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd): the unit is not verified")
	}
	data, err := os.ReadFile(serviceUnit)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "slotwatch-serve.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "/usr/bin/slotwatch", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	// --man=no: the pages are not installed here (scripts/test-release
	// verifies the installed unit with them).
	if out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
