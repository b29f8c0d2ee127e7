package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/actions"
)

func (m *mitigationServers) testGuard(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	pg := []string{"--pg", m.pg.DSNFor("postgres", "postgres"), "--audit-log", audit}
	guard := func(args ...string) (int, string, string) {
		t.Helper()
		return mitRun(t, append(append([]string{"guard"}, args...), pg...)...)
	}
	roleSetting := func() string {
		return m.pg.Psql(t, "postgres", `SELECT coalesce(string_agg(c, ','), '') FROM pg_db_role_setting s
			JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) c WHERE r.rolname = 'web'`)
	}

	if code, out, errOut := guard("set", "idle-session-timeout", "5min", "--role", "web"); code != exitOK || !strings.Contains(out, "Preview only") || roleSetting() != "" {
		t.Fatalf("preview: exit %d\n%s\n%s", code, out, errOut)
	}
	if es := auditOf(t, audit); len(es) != 1 || es[0].Phase != actions.PhasePreviewed {
		t.Fatalf("a preview without --yes is audited as previewed, not declined: %+v", es)
	}
	// Go's units reach the server in PostgreSQL's.
	if code, out, errOut := guard("set", "idle_session_timeout", "5m", "--role", "web", "--yes"); code != exitOK || roleSetting() != "idle_session_timeout=5min" {
		t.Fatalf("set: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ := guard("show", "--role", "web", "--json")
	var values []actions.GuardValue
	if err := json.Unmarshal([]byte(out), &values); err != nil || code != exitOK {
		t.Fatalf("show: exit %d %v\n%s", code, err, out)
	}
	found := false
	for _, v := range values {
		if v.Setting == actions.GuardIdleSession && v.Value != nil && *v.Value == "5min" && v.RevertOf != "" && v.RevertTo == nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("show does not report 5min revertible to not set: %s", out)
	}
	if code, out, errOut := guard("revert", "idle_session_timeout", "--role", "web", "--yes"); code != exitOK || roleSetting() != "" {
		t.Fatalf("revert: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := guard("set", "idle_session_timeout", "5min", "--role", "web", "--yes", "--read-only"); code != exitRefused {
		t.Fatalf("read-only: exit %d %s", code, errOut)
	}
	if code, _, _ := guard("set", "work_mem", "1GB", "--role", "web"); code != exitUsage {
		t.Fatalf("unknown guard: exit %d", code)
	}

	redisArgs := []string{"--redis", m.redis.URL, "--audit-log", audit}
	if code, out, errOut := mitRun(t, append([]string{"guard", "set", "redis-timeout", "5m", "--yes"}, redisArgs...)...); code != exitOK || !strings.Contains(out, "now 300s (was 0)") {
		t.Fatalf("redis set: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := mitRun(t, append([]string{"guard", "revert", "redis-timeout", "--yes"}, redisArgs...)...); code != exitOK || !strings.Contains(out, "now 0 (was 300s)") {
		t.Fatalf("redis revert: exit %d\n%s\n%s", code, out, errOut)
	}
	es := auditOf(t, audit)
	var results []string
	for _, e := range es {
		if e.Phase == actions.PhaseResult {
			results = append(results, e.Action+":"+actions.ShowValue(e.Previous)+"->"+actions.ShowValue(e.New))
		}
	}
	want := "guard-set:not set->5min guard-revert:5min->not set guard-set:0->300 guard-revert:300->0"
	if strings.Join(results, " ") != want {
		t.Fatalf("audit results %q, want %q", strings.Join(results, " "), want)
	}

	// A value stored without a unit is shown as PostgreSQL applies it, and
	// the statement appears only when asked for.
	m.pg.Psql(t, "postgres", "ALTER ROLE web SET idle_in_transaction_session_timeout = 5")
	defer m.pg.Psql(t, "postgres", "ALTER ROLE web RESET idle_in_transaction_session_timeout")
	code, out, _ = guard("set", "idle_in_transaction_session_timeout", "30s", "--role", "web")
	if code != exitOK || !strings.Contains(out, ": 5ms -> 30s\n") || strings.Contains(out, "ALTER ROLE") {
		t.Fatalf("preview of a unitless current value: exit %d\n%s", code, out)
	}
	code, out, _ = guard("set", "idle_in_transaction_session_timeout", "30s", "--role", "web", "--show-sql")
	if code != exitOK || !strings.Contains(out, "statement: ALTER ROLE") {
		t.Fatalf("--show-sql: exit %d\n%s", code, out)
	}
}
