package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envFrom(vars map[string]string) *environment {
	return &environment{getenv: func(k string) string { return vars[k] }}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolvePrecedenceFlagsThenEnvThenFile(t *testing.T) {
	path := writeConfig(t, "pg: postgres://file@db/app\nredis: redis://file:6379\ndb: filedb\n")
	env := envFrom(map[string]string{"DATABASE_URL": "postgres://env@db/app", "HOME": t.TempDir()})

	fromEnv, err := (&targetFlags{configPath: path}).resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	if fromEnv.PG != "postgres://env@db/app" || fromEnv.Redis != "redis://file:6379" || fromEnv.DB != "filedb" {
		t.Fatalf("env should beat the file for pg only: %+v", fromEnv.fileConfig)
	}
	fromFlag, err := (&targetFlags{configPath: path, pg: serverFlag{{Target: "postgres://flag@db/app"}}}).resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	if fromFlag.PG != "postgres://flag@db/app" {
		t.Fatalf("flag should beat env and file, got %q", fromFlag.PG)
	}
	slotwatchEnv := envFrom(map[string]string{"SLOTWATCH_PG": "postgres://sw@db/app", "DATABASE_URL": "postgres://env@db/app"})
	s, err := (&targetFlags{configPath: path}).resolve(slotwatchEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s.PG != "postgres://sw@db/app" {
		t.Fatalf("SLOTWATCH_PG should beat DATABASE_URL, got %q", s.PG)
	}
}

func TestResolveDefaults(t *testing.T) {
	home := t.TempDir()
	s, err := (&targetFlags{}).resolve(envFrom(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval != time.Second || s.Jobs.Interval != 10*time.Second || *s.Probe.Interval != 10*time.Second {
		t.Fatalf("defaults wrong: interval %v jobs %v probe %v", s.Interval, s.Jobs.Interval, *s.Probe.Interval)
	}
	if want := filepath.Join(home, ".local", "state", "slotwatch", "audit.jsonl"); s.AuditLog != want {
		t.Fatalf("audit log default %q, want %q", s.AuditLog, want)
	}
}

func TestDefaultConfigFileIsReadWhenPresent(t *testing.T) {
	xdg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(xdg, "slotwatch"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "slotwatch", "config.yaml"), []byte("read_only: true\nprobe:\n  interval: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := (&targetFlags{}).resolve(envFrom(map[string]string{"XDG_CONFIG_HOME": xdg}))
	if err != nil {
		t.Fatal(err)
	}
	if !s.ReadOnly || *s.Probe.Interval != 0 {
		t.Fatalf("default config file not applied: read_only=%v probe.interval=%v", s.ReadOnly, *s.Probe.Interval)
	}
}

func TestConfigErrorsAreSentences(t *testing.T) {
	cases := map[string]struct {
		path string
		want string
	}{
		"missing explicit file": {filepath.Join(t.TempDir(), "nope.yaml"), "cannot read the config file"},
		"unknown key":           {writeConfig(t, "pgg: postgres://x\n"), "field pgg not found"},
		"bad duration":          {writeConfig(t, "interval: fast\n"), "is not valid"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := (&targetFlags{configPath: c.path}).resolve(envFrom(nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEmptyConfigFileIsValid(t *testing.T) {
	if _, err := (&targetFlags{configPath: writeConfig(t, "")}).resolve(envFrom(nil)); err != nil {
		t.Fatalf("empty config file rejected: %v", err)
	}
}

func TestAlertOverridesFromConfig(t *testing.T) {
	path := writeConfig(t, "alerts:\n  PostgresConnectionLimitReached:\n    threshold: 0.8\n    for: 30s\n  RedisClientsGrowing:\n    disabled: true\n")
	s, err := (&targetFlags{configPath: path}).resolve(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := s.alertRules()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range rules {
		switch r.Name {
		case "PostgresConnectionLimitReached":
			seen++
			if r.Threshold != 0.8 || r.For != 30*time.Second {
				t.Fatalf("override not applied: %+v", r)
			}
		case "RedisClientsGrowing":
			seen++
			if !r.Disabled {
				t.Fatal("RedisClientsGrowing should be disabled")
			}
		}
	}
	if seen != 2 {
		t.Fatalf("rules missing from DefaultRules: saw %d of 2", seen)
	}

	if len(s.rules) != len(rules) {
		t.Fatalf("resolve kept %d rules, alertRules gives %d", len(s.rules), len(rules))
	}

	bad := writeConfig(t, "alerts:\n  NoSuchRule:\n    threshold: 1\n")
	if _, err := (&targetFlags{configPath: bad}).resolve(envFrom(nil)); err == nil || !strings.Contains(err.Error(), "NoSuchRule") {
		t.Fatalf("unknown rule error %v, want resolve to name NoSuchRule", err)
	}
}

func TestGroupIdleOverFlagThenConfigThenDefault(t *testing.T) {
	s, err := (&targetFlags{configPath: writeConfig(t, "actions:\n  group_idle_over: 30m\n")}).resolve(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := (&dashboardFlags{}).idleOver(s); got != 30*time.Minute {
		t.Fatalf("config value ignored: %v", got)
	}
	if got := (&dashboardFlags{groupIdleOver: 5 * time.Minute}).idleOver(s); got != 5*time.Minute {
		t.Fatalf("flag should beat the config: %v", got)
	}
	if got := (&dashboardFlags{}).idleOver(nil); got != 10*time.Minute {
		t.Fatalf("default should be 10m: %v", got)
	}
}
