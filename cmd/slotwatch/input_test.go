package main

import (
	"bytes"
	"github.com/slotwatch/slotwatch/actions"
	"strings"
	"testing"
	"time"
)

// runQuiet runs a command in-process with no servers and an empty home.
func runQuiet(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runQuietEnv(t, map[string]string{}, args...)
}

// TestNumbersAreRangeChecked: every number is checked as a 64-bit value
// against its real range before anything connects; --pid 4294967297 once
// wrapped to pid 1.
func TestNumbersAreRangeChecked(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"terminate", "--pid", "4294967297"}, "slotwatch: --pid 4294967297 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--pid", "12,2147483648"}, "slotwatch: --pid 2147483648 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--pid=0"}, "slotwatch: --pid 0 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--pid", "-7"}, "slotwatch: --pid -7 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--pid", "99999999999999999999"}, "slotwatch: --pid 99999999999999999999 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--pid", "12a"}, "slotwatch: --pid 12a is not a whole number.\n"},
		{[]string{"terminate", "--app", "web", "--limit", "-1"}, "slotwatch: --limit -1 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--app", "web", "--limit", "0"}, "slotwatch: --limit 0 is out of range (1 to 2147483647).\n"},
		{[]string{"terminate", "--app", "web", "--idle-over", "-5m"}, "slotwatch: --idle-over -5m must not be negative.\n"},
		{[]string{"terminate", "--app", "web", "--terminate-timeout", "2h"}, "slotwatch: --terminate-timeout 2h is too long (at most 10min).\n"},
		{[]string{"redis-kill", "--id", "0"}, "slotwatch: --id 0 is out of range (1 to 9223372036854775807).\n"},
		{[]string{"redis-kill", "--id", "9223372036854775808"}, "slotwatch: --id 9223372036854775808 is out of range (1 to 9223372036854775807).\n"},
		{[]string{"redis-kill", "--name", "x", "--age-over", "-1h"}, "slotwatch: --age-over -1h must not be negative.\n"},
		{[]string{"record", "--out", "x.jsonl", "--for", "0"}, "slotwatch: --for 0 must be longer than 0.\n"},
		{[]string{"demo", "--speed", "0"}, "slotwatch: --speed 0 is out of range (more than 0, at most 1000).\n"},
		{[]string{"demo", "--speed", "NaN"}, "slotwatch: --speed NaN is not a number.\n"},
		{[]string{"replay", "--speed", "-2", "x"}, "slotwatch: --speed -2 is out of range (more than 0, at most 1000).\n"},
		{[]string{"drill", "--connections", "-3"}, "slotwatch: --connections -3 is out of range (0 to 262143).\n"},
		{[]string{"drill", "--duration", "0s"}, "slotwatch: --duration 0s must be longer than 0.\n"},
		{[]string{"watch", "--group-idle-over", "0"}, "slotwatch: --group-idle-over 0 must be at least 1s.\n"},
	}
	for _, c := range cases {
		code, out, errOut := runQuiet(t, c.args...)
		if code != exitUsage || errOut != c.want || out != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 2 and %q", c.args, code, errOut, out, c.want)
		}
	}
}

func TestFlagValuesInRangeAreKept(t *testing.T) {
	fs := newFlagSet(&environment{stderr: &bytes.Buffer{}}, "terminate")
	var f terminateFlags
	f.register(fs)
	args := []string{"--pid", "2147483647,7", "--limit", "3", "--idle-over", "5min", "--state", "idle_in_transaction,Active", "--state", "idle-in-transaction-aborted", "--terminate-timeout", "500ms"}
	if code, done := parseFlags(fs, args); done {
		t.Fatalf("parse: exit %d", code)
	}
	req := f.request("")
	if got := req.Filter.PIDs; len(got) != 2 || got[0] != 2147483647 || got[1] != 7 {
		t.Errorf("pids %v", got)
	}
	if req.Filter.Limit != 3 || req.Filter.IdleOver != 5*time.Minute || f.timeout != 500*time.Millisecond {
		t.Errorf("limit %d idle-over %v timeout %v", req.Filter.Limit, req.Filter.IdleOver, f.timeout)
	}
	if want := []string{"idle in transaction", "active", "idle in transaction (aborted)"}; strings.Join(req.Filter.States, "|") != strings.Join(want, "|") {
		t.Errorf("states %q, want %q", req.Filter.States, want)
	}
}

// TestFlagsLikeASeriousCLI: -- ends the flags, a bad value is one line
// without the usage text, --help alone prints the usage, and durations take
// Go and PostgreSQL units.
func TestFlagsLikeASeriousCLI(t *testing.T) {
	code, _, errOut := runQuiet(t, "terminate", "--state", "bogus")
	if code != exitUsage || errOut != "slotwatch: --state bogus is not a session state: use active, idle, idle-in-transaction, idle-in-transaction-aborted, fastpath-function-call, disabled.\n" {
		t.Errorf("--state bogus: exit %d %q", code, errOut)
	}
	code, _, errOut = runQuiet(t, "terminate", "--frobnicate")
	if code != exitUsage || errOut != "slotwatch: terminate has no flag --frobnicate; run `slotwatch terminate --help` for its flags.\n" {
		t.Errorf("unknown flag: exit %d %q", code, errOut)
	}
	code, _, errOut = runQuiet(t, "terminate", "--app")
	if code != exitUsage || errOut != "slotwatch: --app needs a value; run `slotwatch terminate --help`.\n" {
		t.Errorf("missing value: exit %d %q", code, errOut)
	}
	code, _, errOut = runQuiet(t, "terminate", "--", "--pid", "5")
	if code != exitUsage || !strings.Contains(errOut, `takes flags only, got "--pid"`) {
		t.Errorf("after --: exit %d %q", code, errOut)
	}
	code, out, errOut := runQuiet(t, "terminate", "--help")
	if code != exitOK || !strings.Contains(out+errOut, "Usage: slotwatch terminate") || !strings.Contains(out+errOut, "-idle-over") {
		t.Errorf("--help: exit %d %q %q", code, out, errOut)
	}
	for _, args := range [][]string{{"terminate", "--pid", "x"}, {"guard", "set", "idle_session_timeout", "-5min", "--role", "web"}, {"redis-kill", "--bogus"}} {
		if _, out, errOut := runQuiet(t, args...); strings.Count(errOut, "\n") != 1 || strings.Contains(out+errOut, "Usage") {
			t.Errorf("%q: want one line and no usage, got %q %q", args, out, errOut)
		}
	}
}

func TestGuardArgumentsAfterDoubleDashArePositional(t *testing.T) {
	code, _, errOut := runQuiet(t, "guard", "set", "--", "idle_session_timeout", "--role", "x")
	if code != exitUsage || !strings.Contains(errOut, "guard set takes 2 argument(s) after the verb, got 3") {
		t.Errorf("guard set -- NAME --role x: exit %d %q", code, errOut)
	}
	pos, code, done := parseFlagsInterspersed(guardFlagSet(&environment{stderr: &bytes.Buffer{}}, &guardFlags{}), []string{"set", "--role", "web", "NAME", "--", "--yes", "-5min"})
	if done || strings.Join(pos, " ") != "set NAME --yes -5min" {
		t.Errorf("positionals %q (exit %d)", pos, code)
	}
}

func TestGuardValuesTakeOneDurationSyntax(t *testing.T) {
	for _, c := range []struct{ setting, in, want string }{
		{"idle_session_timeout", "5m", "5min"}, {"idle_session_timeout", "5min", "5min"},
		{"idle_session_timeout", "300s", "5min"}, {"idle_session_timeout", "90s", "90s"},
		{"idle_session_timeout", "1500ms", "1500ms"}, {"idle_session_timeout", "0", "0"},
		{"idle_in_transaction_session_timeout", "1h", "1h"},
		{"redis-timeout", "300s", "300"}, {"redis-timeout", "5m", "300"}, {"redis-timeout", "5min", "300"},
	} {
		setting := guardName(c.setting)
		got, err := guardValue(setting, c.in, false)
		if err != nil || got != c.want {
			t.Errorf("guardValue(%s, %q) = %q, %v; want %q", c.setting, c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ setting, in, want string }{
		{"idle_session_timeout", "-5min", "the idle_session_timeout value -5min must not be negative."},
		{"idle_session_timeout", "soon", "the idle_session_timeout value soon is not a duration"},
		{"idle_session_timeout", "30d", "is too long (at most 2147483647ms)"},
		{"redis-timeout", "1500ms", "is not a whole number of seconds"},
		{"idle_session_timeout", "5", "the idle_session_timeout value 5 has no unit, and PostgreSQL would read it as 5ms; write it with a unit: ms, s, min, h or d (e.g. 5min)."},
		{"redis-timeout", "300", "Redis would read it as 300s"},
		{"idle_session_timeout", "500ms", "is under one second and would end sessions between two queries; pass --allow-subsecond"},
	} {
		if _, err := guardValue(guardName(c.setting), c.in, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("guardValue(%s, %q) error %v; want %q", c.setting, c.in, err, c.want)
		}
	}
	if got, err := guardValue(actions.GuardIdleSession, "500ms", true); err != nil || got != "500ms" {
		t.Errorf("guardValue 500ms --allow-subsecond = %q, %v", got, err)
	}
	code, _, errOut := runQuiet(t, "guard", "set", "idle_session_timeout", "5", "--role", "app")
	if code != exitUsage || !strings.Contains(errOut, "has no unit") {
		t.Errorf("guard set idle_session_timeout 5: exit %d %q", code, errOut)
	}
	code, _, errOut = runQuiet(t, "guard", "set", "idle_session_timeout", "-5min", "--role", "web")
	if code != exitUsage || errOut != "slotwatch: the idle_session_timeout value -5min must not be negative.\n" {
		t.Errorf("guard set -5min: exit %d %q", code, errOut)
	}
}

// TestConfigNumbersAndDurations: the config file takes the flags' duration
// units and rejects out-of-range numbers with the key and line.
func TestConfigNumbersAndDurations(t *testing.T) {
	home := t.TempDir()
	path := writeConfig(t, "interval: 500ms\nprobe:\n  interval: 0\njobs:\n  interval: 1min\nactions:\n  batch_size: 20\n  batch_interval: 250ms\n  group_idle_over: 15min\nalerts:\n  PostgresLockWaits: {for: 1min}\n")
	s, err := (&targetFlags{configPath: path}).resolve(envFrom(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval != 500*time.Millisecond || *s.Probe.Interval != 0 || s.Jobs.Interval != time.Minute ||
		s.Actions.BatchSize != 20 || s.Actions.BatchInterval != 250*time.Millisecond || s.Actions.GroupIdleOver != 15*time.Minute {
		t.Fatalf("config values: %+v", s.fileConfig)
	}
	if p := s.policy(); p.BatchSize != 20 || p.BatchInterval != 250*time.Millisecond {
		t.Fatalf("policy: %+v", p)
	}
	for body, want := range map[string]string{
		"actions:\n  batch_size: -5\n":                   "line 2: actions.batch_size: -5 is out of range (1 to 100000)",
		"actions:\n  batch_size: 0\n":                    "actions.batch_size: 0 is out of range (1 to 100000)",
		"actions:\n  batch_size: 99999999999999999999\n": "is out of range (1 to 100000)",
		"interval: -1s\n":                                "line 1: interval: -1s must not be negative",
		"interval: 5 parsecs\n":                          `interval: "5 parsecs" is not a duration`,
		"jobs:\n  interval: 2d\n":                        "jobs.interval: 2d is too long (at most 1d)",
		"alerts:\n  PostgresLockWaits:\n    for: -2m\n":  "line 3: alerts.*.for: -2m must not be negative",
		"pgg: postgres://x@db/app\n":                     "field pgg not found",
	} {
		_, err := (&targetFlags{configPath: writeConfig(t, body)}).resolve(envFrom(map[string]string{"HOME": home}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want %q", body, err, want)
		}
	}
}
