package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// mitigationServers are shared by the terminate, redis-kill and guard
// command tests: one PostgreSQL and one Redis for all of them.
type mitigationServers struct {
	pg    *testserver.Postgres
	redis *testserver.Redis
}

func TestMitigationCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and Redis")
	}
	m := &mitigationServers{
		pg:    testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30}),
		redis: testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 100}),
	}
	m.pg.Psql(t, "postgres", "CREATE ROLE web LOGIN; CREATE ROLE ops LOGIN; GRANT pg_read_all_stats TO ops")
	m.pg.Psql(t, "postgres", "CREATE DATABASE talentflow")
	t.Run("terminate", m.testTerminate)
	t.Run("terminate refusals", m.testTerminateRefusals)
	t.Run("terminate --state idle-in-transaction", m.testStateAliases)
	t.Run("redis-kill", m.testRedisKill)
	t.Run("guard", m.testGuard)
	t.Run("PG* environment", m.testLibpqEnv)
	t.Run("hostile names", m.testHostileNames)
	t.Run("rows hidden by privilege", m.testHiddenRows)
}

// testHiddenRows: a role without pg_monitor cannot see other roles'
// states, so a terminate by state says how many rows it could not read and
// which grant is missing, exit 1, and signals nothing; after the grant the
// same command ends the session.
func (m *mitigationServers) testHiddenRows(t *testing.T) {
	m.pg.Psql(t, "postgres", "CREATE ROLE monitor LOGIN; GRANT pg_signal_backend TO monitor")
	victim := m.session(t, "web", "hidden-web")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	args := []string{"terminate", "--pg", m.pg.DSNFor("monitor", "talentflow"), "--audit-log", audit,
		"--app", "hidden-web", "--state", "idle", "--yes"}
	code, out, errOut := mitRun(t, args...)
	if code != exitError || !strings.Contains(errOut+out, "hidden from role monitor: GRANT pg_monitor TO monitor") ||
		strings.Contains(errOut+out, "no session matches") {
		t.Fatalf("terminate over hidden rows: exit %d\n%s%s\nwant 1 naming the hidden rows and the grant", code, out, errOut)
	}
	if len(m.alive(t, victim)) != 1 {
		t.Fatal("a terminate that could not read the rows signalled one")
	}
	m.pg.Psql(t, "postgres", "GRANT pg_monitor TO monitor")
	if code, out, errOut := mitRun(t, args...); code != exitOK || !strings.Contains(out, "done 1,") {
		t.Fatalf("after GRANT pg_monitor: exit %d\n%s%s", code, out, errOut)
	}
	if len(m.alive(t, victim)) != 0 {
		t.Fatal("after GRANT pg_monitor the idle session is still there")
	}
}

// session opens a session as user with application_name app, runs setup
// and returns its pid.
func (m *mitigationServers) session(t *testing.T, user, app string, setup ...string) int32 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), m.pg.DSNFor(user, "talentflow")+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	for _, sql := range setup {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	return int32(conn.PgConn().PID())
}

func (m *mitigationServers) alive(t *testing.T, pids ...int32) []int32 {
	t.Helper()
	var out []int32
	for _, p := range pids {
		if m.pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE pid = "+strconv.Itoa(int(p))) == "1" {
			out = append(out, p)
		}
	}
	return out
}

func auditOf(t *testing.T, path string) []actions.AuditEntry {
	t.Helper()
	es, err := actions.ReadAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func (m *mitigationServers) testTerminate(t *testing.T) {
	web := []int32{m.session(t, "web", "talentflow-web"), m.session(t, "web", "talentflow-web")}
	other := m.session(t, "web", "talentflow-worker")
	super := m.session(t, "postgres", "talentflow-web")
	audit := filepath.Join(t.TempDir(), "state", "audit.jsonl")
	base := []string{"terminate", "--pg", m.pg.DSNFor("postgres", "talentflow"), "--audit-log", audit, "--app", "talentflow-web"}

	code, out, errOut := mitRun(t, base...)
	if code != exitOK || !strings.Contains(out, "Preview only") || !strings.Contains(out, "superuser session") {
		t.Fatalf("preview: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "pg_terminate_backend") {
		t.Errorf("a preview without --show-sql prints its statement:\n%s", out)
	}
	if _, sqlOut, _ := mitRun(t, "terminate", "--pg", m.pg.DSNFor("postgres", "talentflow"), "--audit-log", filepath.Join(t.TempDir(), "sql.jsonl"), "--app", "talentflow-web", "--show-sql"); !strings.Contains(sqlOut, "statement, per session:") {
		t.Errorf("--show-sql does not print the statement:\n%s", sqlOut)
	}
	for _, pid := range web {
		if !strings.Contains(out, strconv.Itoa(int(pid))) {
			t.Errorf("preview does not list pid %d:\n%s", pid, out)
		}
	}
	if got := m.alive(t, web...); len(got) != 2 {
		t.Fatalf("preview killed sessions: alive %v", got)
	}
	if es := auditOf(t, audit); len(es) != 1 || es[0].Phase != actions.PhasePreviewed || es[0].Confirmed {
		t.Fatalf("preview audit %+v", es)
	}

	code, out, errOut = mitRun(t, append(base, "--yes", "--json")...)
	if code != exitOK {
		t.Fatalf("terminate --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Executed bool `json:"executed"`
		Plan     struct {
			Targets  []struct{ PID int32 } `json:"targets"`
			Excluded []struct {
				Reason string `json:"reason"`
			} `json:"excluded"`
			Statement string `json:"statement"`
		} `json:"plan"`
		Results []struct {
			ID      int64  `json:"id"`
			Outcome string `json:"outcome"`
		} `json:"results"`
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if !res.Executed || res.Counts["done"] != 2 || len(res.Plan.Excluded) != 1 || !strings.Contains(res.Plan.Statement, "pg_terminate_backend") {
		t.Fatalf("json result %+v", res)
	}
	if got := m.alive(t, append(slices.Clone(web), other, super)...); !slices.Equal(got, []int32{other, super}) {
		t.Fatalf("alive %v, want exactly the worker %d and the superuser %d", got, other, super)
	}
	es := auditOf(t, audit)
	if len(es) != 3 || es[1].Phase != actions.PhaseIntent || es[2].Phase != actions.PhaseResult || len(es[2].Done) != 2 {
		t.Fatalf("audit %+v", es)
	}

	code, out, _ = mitRun(t, "terminate", "--pg", m.pg.DSNFor("postgres", "talentflow"), "--audit-log", audit, "--app", "nobody-*", "--yes")
	if code != exitOK || !strings.Contains(out, "0 session(s)") {
		t.Fatalf("no match: exit %d\n%s", code, out)
	}
}

func (m *mitigationServers) testTerminateRefusals(t *testing.T) {
	victim := m.session(t, "web", "talentflow-web")
	super := m.session(t, "postgres", "psql")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	dsn := m.pg.DSNFor("postgres", "talentflow")

	code, _, errOut := mitRun(t, "terminate", "--pg", dsn, "--audit-log", audit, "--yes")
	if code != exitUsage || !strings.Contains(errOut, "never means every session") {
		t.Fatalf("filterless terminate: exit %d %s", code, errOut)
	}
	code, _, errOut = mitRun(t, "terminate", "--pg", dsn, "--audit-log", audit, "--pid", strconv.Itoa(int(victim)), "--yes", "--read-only")
	if code != exitRefused || !strings.Contains(errOut, "read-only") {
		t.Fatalf("read-only: exit %d %s", code, errOut)
	}
	code, _, errOut = mitRun(t, "terminate", "--pg", dsn, "--audit-log", audit, "--pid", strconv.Itoa(int(super)), "--yes")
	if code != exitRefused || !strings.Contains(errOut, "protected by the safety policy") {
		t.Fatalf("superuser pid: exit %d %s", code, errOut)
	}
	code, out, _ := mitRun(t, "terminate", "--pg", m.pg.DSNFor("ops", "talentflow"), "--audit-log", audit, "--pid", strconv.Itoa(int(victim)), "--yes")
	if code != exitError || !strings.Contains(out, "GRANT pg_signal_backend TO ops") {
		t.Fatalf("missing privilege: exit %d\n%s", code, out)
	}
	code, _, errOut = runCancelIdle(t, dsn, audit)
	if code != exitOK || !strings.Contains(errOut, "run without --cancel") {
		t.Fatalf("cancel on idle: exit %d %s", code, errOut)
	}
	if got := m.alive(t, victim, super); len(got) != 2 {
		t.Fatalf("a refused terminate killed something: alive %v", got)
	}
	es := auditOf(t, audit)
	phases := make([]string, len(es))
	for i, e := range es {
		phases[i] = e.Phase
	}
	want := []string{actions.PhaseRefused, actions.PhaseIntent, actions.PhaseResult, actions.PhasePreviewed}
	if !slices.Equal(phases, want) || len(es[2].Failed) != 1 {
		t.Fatalf("audit phases %v, want %v (read-only refusal, then the failed attempt)", phases, want)
	}

	// A pid asked for by number that is not a client session is an error
	// that says so, with --yes or without: a server process, a pid that
	// does not exist.
	worker := m.pg.Psql(t, "postgres", "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
	for _, pid := range []string{worker, "2147483000"} {
		for _, yes := range []bool{true, false} {
			args := []string{"terminate", "--pg", dsn, "--audit-log", filepath.Join(t.TempDir(), "a.jsonl"), "--pid", pid}
			if yes {
				args = append(args, "--yes")
			}
			code, _, errOut := mitRun(t, args...)
			if code != exitError || !strings.Contains(errOut, "pid "+pid+" is not a client session") || strings.Contains(errOut, "nothing to do") {
				t.Errorf("terminate --pid %s (yes %v): exit %d %q; want 1 saying it is not a client session", pid, yes, code, errOut)
			}
		}
	}
	if got := m.alive(t, victim, super); len(got) != 2 {
		t.Fatalf("a terminate of a non-client pid killed something: alive %v", got)
	}
}

func runCancelIdle(t *testing.T, dsn, audit string) (int, string, string) {
	return mitRun(t, "terminate", "--pg", dsn, "--audit-log", audit, "--app", "talentflow-web", "--cancel")
}

func (m *mitigationServers) testStateAliases(t *testing.T) {
	inTx := m.session(t, "web", "talentflow-tx", "BEGIN", "SELECT 1")
	idle := m.session(t, "web", "talentflow-tx")
	code, out, errOut := mitRun(t, "terminate", "--pg", m.pg.DSNFor("postgres", "talentflow"), "--audit-log", filepath.Join(t.TempDir(), "a.jsonl"),
		"--state", "idle-in-transaction", "--app", "talentflow-tx", "--yes")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if got := m.alive(t, inTx, idle); !slices.Equal(got, []int32{idle}) {
		t.Fatalf("alive %v, want only the idle session %d", got, idle)
	}
}

// mitRun runs slotwatch in-process with no config file or environment
// targets, and returns its exit status and streams.
func mitRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: envFrom(map[string]string{"HOME": t.TempDir(), "USER": "oncall"}).getenv}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, env, args)
	return code, stdout.String(), stderr.String()
}

// mitHoldRedis opens n clients named fmt.Sprintf(nameFormat, i).
func mitHoldRedis(t *testing.T, addr, nameFormat string, n int) {
	t.Helper()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "CLIENT SETNAME "+nameFormat+"\r\n", i)
		if reply, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(reply, "+OK") {
			t.Fatalf("client %d: %q, %v", i, reply, err)
		}
	}
}
