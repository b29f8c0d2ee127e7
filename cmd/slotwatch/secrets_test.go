package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// secretPassword has the characters that break DSNs and URLs when they are
// not encoded: a space, '#', '@' and '/'. secretParts are pieces of it, so
// a redaction that keeps half of the password is caught too.
const secretPassword = "Zq9 Kx7#Wv5@Tr3/Pm1"

var secretParts = []string{"Zq9", "Kx7", "Wv5", "Tr3", "Pm1", url.QueryEscape(secretPassword), url.PathEscape(secretPassword)}

// secretTargets are DSNs and URLs that carry secretPassword, raw (malformed)
// and encoded, at a port where nothing listens (so every command fails and
// takes its error path) and with malformed parts.
func secretTargets() (pgs, redises []string) {
	enc := url.QueryEscape(secretPassword)
	pgs = []string{
		"postgres://app:" + secretPassword + "@127.0.0.1:1/app",
		"postgres://app:" + enc + "@127.0.0.1:1/app",
		"postgres://app:" + enc + "@127.0.0.1:notaport/app",
		"postgres://app:" + enc + "@[::1/app",
		"host=127.0.0.1 port=1 user=app dbname=app password='" + strings.ReplaceAll(secretPassword, "'", `\'`) + "'",
		"host=127.0.0.1 port=notaport user=app password=" + enc,
		"postgres://app@127.0.0.1:1/app?password=" + enc,
	}
	redises = []string{
		"redis://:" + secretPassword + "@127.0.0.1:1/0",
		"redis://default:" + enc + "@127.0.0.1:1/0",
		"redis://:" + enc + "@127.0.0.1:notaport/0",
		"redis://:" + enc + "@[::1/0",
		"rediss://:" + enc + "@127.0.0.1:1/0",
	}
	return pgs, redises
}

// runWithEnv runs a command in-process; it returns stdout and stderr
// together.
func runWithEnv(t *testing.T, vars map[string]string, args ...string) (int, string) {
	t.Helper()
	code, out, errOut := runQuietEnv(t, vars, args...)
	return code, out + errOut
}

func assertNoSecret(t *testing.T, what, output string) {
	t.Helper()
	for _, p := range secretParts {
		if strings.Contains(output, p) {
			t.Errorf("%s printed the password (%q):\n%s", what, p, output)
			return
		}
	}
}

// TestNoCommandPrintsAPassword runs every command that takes a target
// through its error paths with the target in a flag, in the environment
// and in the config file, and checks that no output holds the password.
func TestNoCommandPrintsAPassword(t *testing.T) {
	pgs, redises := secretTargets()
	audit := func() string { return t.TempDir() + "/audit.jsonl" }
	for _, pg := range pgs {
		cfgProbe := writeConfig(t, fmt.Sprintf("redis: redis://127.0.0.1:1/0\nprobe:\n  dsn: %q\njobs:\n  dsn: %q\n", pg, pg))
		cfgPG := writeConfig(t, fmt.Sprintf("pg: %q\n", pg))
		cfgList := writeConfig(t, fmt.Sprintf("pg:\n  - postgres://a@127.0.0.1:2/app\n  - {name: r1, dsn: %q}\n  - %q\n", pg, pg))
		runs := []struct {
			name string
			vars map[string]string
			args []string
		}{
			{"snapshot --pg", map[string]string{}, []string{"snapshot", "--pg", pg}},
			{"snapshot --json --pg", map[string]string{}, []string{"snapshot", "--json", "--pg", pg}},
			{"snapshot DATABASE_URL", map[string]string{"DATABASE_URL": pg}, []string{"snapshot"}},
			{"snapshot SLOTWATCH_PG", map[string]string{"SLOTWATCH_PG": pg}, []string{"snapshot"}},
			{"snapshot probe.dsn and jobs.dsn", map[string]string{}, []string{"snapshot", "--config", cfgProbe}},
			{"snapshot config pg", map[string]string{}, []string{"snapshot", "--config", cfgPG}},
			{"record --pg", map[string]string{}, []string{"record", "--pg", pg, "--out", t.TempDir() + "/r.jsonl", "--for", "1s"}},
			{"terminate --pg", map[string]string{}, []string{"terminate", "--pg", pg, "--app", "web", "--audit-log", audit()}},
			{"guard show --pg", map[string]string{}, []string{"guard", "show", "--pg", pg, "--audit-log", audit()}},
			{"guard set DATABASE_URL", map[string]string{"DATABASE_URL": pg}, []string{"guard", "set", "idle_session_timeout", "5m", "--role", "web", "--audit-log", audit()}},
			// Several servers: the target as the second of two, by flag and by list.
			{"snapshot two --pg", map[string]string{}, []string{"snapshot", "--json", "--pg", "postgres://a@127.0.0.1:2/app", "--pg", pg}},
			{"snapshot config pg list", map[string]string{}, []string{"snapshot", "--config", cfgList}},
			{"terminate config pg list", map[string]string{}, []string{"terminate", "--config", cfgList, "--app", "web", "--audit-log", audit()}},
			{"terminate --server r1", map[string]string{}, []string{"terminate", "--config", cfgList, "--server", "r1", "--app", "web", "--audit-log", audit()}},
			{"guard show config pg list", map[string]string{}, []string{"guard", "show", "--config", cfgList, "--audit-log", audit()}},
		}
		for _, r := range runs {
			code, out := runWithEnv(t, r.vars, r.args...)
			if code == exitOK && r.args[0] != "record" { // record keeps recording a server that is down
				t.Errorf("%s with %s: exit 0, want a failure:\n%s", r.name, pg, out)
			}
			assertNoSecret(t, r.name+" with "+pg, out)
		}
	}
	for _, rd := range redises {
		for _, r := range []struct {
			name string
			vars map[string]string
			args []string
		}{
			{"snapshot --redis", map[string]string{}, []string{"snapshot", "--redis", rd}},
			{"snapshot REDIS_URL", map[string]string{"REDIS_URL": rd}, []string{"snapshot", "--json"}},
			{"snapshot SLOTWATCH_REDIS", map[string]string{"SLOTWATCH_REDIS": rd}, []string{"snapshot"}},
			{"redis-kill --redis", map[string]string{}, []string{"redis-kill", "--redis", rd, "--name", "x", "--audit-log", audit()}},
			{"guard set redis-timeout", map[string]string{}, []string{"guard", "set", "redis-timeout", "300s", "--redis", rd, "--audit-log", audit()}},
			{"snapshot config redis", map[string]string{}, []string{"snapshot", "--config", writeConfig(t, fmt.Sprintf("redis: %q\n", rd))}},
			{"snapshot two --redis", map[string]string{}, []string{"snapshot", "--redis", "redis://127.0.0.1:2/0", "--redis", "leak=" + rd}},
			{"redis-kill --server", map[string]string{}, []string{"redis-kill", "--config", writeConfig(t, fmt.Sprintf("redis:\n  - redis://127.0.0.1:2/0\n  - {name: c2, url: %q, cluster: true}\n", rd)),
				"--server", "c2", "--name", "x", "--audit-log", audit()}},
			{"redis-kill config list no --server", map[string]string{}, []string{"redis-kill", "--config", writeConfig(t, fmt.Sprintf("redis:\n  - redis://127.0.0.1:2/0\n  - %q\n", rd)),
				"--name", "x", "--audit-log", audit()}},
		} {
			code, out := runWithEnv(t, r.vars, r.args...)
			if code == exitOK {
				t.Errorf("%s with %s: exit 0, want a failure:\n%s", r.name, rd, out)
			}
			assertNoSecret(t, r.name+" with "+rd, out)
		}
	}
}

// TestFlagErrorsDoNotQuoteSecrets: a DSN pasted into the wrong flag is
// redacted in the error that names it.
func TestFlagErrorsDoNotQuoteSecrets(t *testing.T) {
	pgs, redises := secretTargets()
	for _, target := range append(pgs, redises...) {
		code, out := runWithEnv(t, map[string]string{}, "terminate", "--limit", target)
		if code != exitUsage || !strings.Contains(out, "--limit") {
			t.Errorf("--limit %s: exit %d\n%s", target, code, out)
		}
		assertNoSecret(t, "--limit "+target, out)
	}
}

// TestConfigFileErrorsDoNotQuoteSecrets: a misplaced DSN in the config
// file is named by its key, never quoted.
func TestConfigFileErrorsDoNotQuoteSecrets(t *testing.T) {
	enc := url.QueryEscape(secretPassword)
	for _, body := range []string{
		"probe: postgres://app:" + enc + "@db/app\n",
		"pg: {dsn: postgres://app:" + enc + "@db/app}\n",
		"pg: [{name: a, url: postgres://app:" + enc + "@db/app}]\n",
		"redis: [{name: 'bad name', url: redis://:" + enc + "@cache:6379}]\n",
		"jobs:\n  dsn: {password: " + enc + "}\n",
		"pg: postgres://app:" + enc + "@db/app\n\tbad: indent\n",
	} {
		code, out := runWithEnv(t, map[string]string{}, "snapshot", "--config", writeConfig(t, body))
		if code != exitUsage {
			t.Errorf("config %q: exit %d, want 2:\n%s", body, code, out)
		}
		assertNoSecret(t, "config "+body, out)
	}
}
