package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// runCommand runs slotwatch in-process with no config file or environment
// targets, and returns its exit status and streams.
func snapRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: envFrom(map[string]string{"HOME": t.TempDir()}).getenv}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, env, args)
	return code, stdout.String(), stderr.String()
}

func snapHoldPG(t *testing.T, dsn, app string, n int, sql string) {
	t.Helper()
	for range n {
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cc.RuntimeParams["application_name"] = app
		conn, err := pgx.ConnectConfig(context.Background(), cc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		if sql != "" {
			if _, err := conn.Exec(context.Background(), sql); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// holdRedisClients opens n clients named fmt.Sprintf(nameFormat, i), or
// unnamed, each confirmed by the server.
func snapHoldRedis(t *testing.T, addr, nameFormat string, n int) {
	t.Helper()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cmd := "PING"
		if nameFormat != "" {
			cmd = "CLIENT SETNAME " + fmt.Sprintf(nameFormat, i)
		}
		if reply, err := snapRedisDo(c, bufio.NewReader(c), cmd); err != nil || !strings.HasPrefix(reply, "+") {
			t.Fatalf("client %d: %q, %v", i, reply, err)
		}
	}
}

func snapRedisDo(c net.Conn, rd *bufio.Reader, cmd string) (string, error) {
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		return "", err
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, _ := strconv.Atoi(line[1:])
	buf := make([]byte, n+2)
	_, err = io.ReadFull(rd, buf)
	return string(buf[:n]), err
}

// snapshotContract is the part of the --json contract the tests check, decoded
// by field name as a consumer would.
type snapshotContract struct {
	TakenAt  time.Time `json:"taken_at"`
	Postgres *struct {
		MaxConnections int            `json:"max_connections"`
		Total          int            `json:"total"`
		ByState        map[string]int `json:"by_state"`
		Waiting        int            `json:"waiting"`
		Sessions       []struct {
			PID             int32   `json:"pid"`
			ApplicationName string  `json:"application_name"`
			State           string  `json:"state"`
			BlockedBy       []int32 `json:"blocked_by"`
		} `json:"sessions"`
		Groups []struct {
			ApplicationName string         `json:"application_name"`
			Total           int            `json:"total"`
			ByState         map[string]int `json:"by_state"`
		} `json:"groups"`
	} `json:"postgres"`
	Probe *struct {
		OK bool `json:"ok"`
	} `json:"probe"`
	Redis *struct {
		ConnectedClients int64 `json:"connected_clients"`
		MaxClients       int64 `json:"maxclients"`
		Clients          []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"clients"`
		Groups []struct {
			Host  string `json:"host"`
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"groups"`
	} `json:"redis"`
	Jobs *struct {
		OverCapacity []struct {
			ID     string `json:"id"`
			Excess int64  `json:"excess"`
		} `json:"over_capacity"`
	} `json:"jobs"`
	Errors   map[string]string `json:"errors"`
	Alerts   []json.RawMessage `json:"alerts"`
	Findings []json.RawMessage `json:"findings"`
}

func TestSnapshotCommand(t *testing.T) {
	p := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	r := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 200})
	p.Psql(t, "postgres", "CREATE DATABASE talentflow")
	schema, err := os.ReadFile(filepath.Join("..", "..", "testdata", "talentflow", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	p.Psql(t, "talentflow", string(schema))
	p.Psql(t, "talentflow", `INSERT INTO jobs (id, title, max_applications) VALUES (12345, 'Senior Backend Engineer', 2);
		INSERT INTO candidates (name, email) SELECT 'c' || g, g || '@x' FROM generate_series(1, 3) g;
		INSERT INTO applications (job_id, candidate_id) SELECT 12345, g FROM generate_series(1, 3) g`)
	t.Run("json equals pg_stat_activity and CLIENT LIST", func(t *testing.T) { testSnapshotJSON(t, p, r) })
	t.Run("text summary", func(t *testing.T) { testSnapshotText(t, p, r) })
	t.Run("failures exit 1 without passwords", func(t *testing.T) { testSnapshotFailures(t, p) })
}

func testSnapshotJSON(t *testing.T, p *testserver.Postgres, r *testserver.Redis) {
	dsn := p.DSNFor("postgres", "talentflow")
	snapHoldPG(t, dsn, "django", 4, "")
	snapHoldPG(t, dsn, "celery", 2, "BEGIN; SELECT 1")
	snapHoldRedis(t, r.Addr, "rq-worker-%d", 50)
	snapHoldRedis(t, r.Addr, "", 30)

	secretDSN := strings.Replace(dsn, "postgres@", "postgres:Sup3rSecret@", 1)
	code, stdout, stderr := snapRun(t, "snapshot", "--json", "--pg", secretDSN, "--redis", r.URL)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "Sup3rSecret") {
		t.Fatal("the password appears in the JSON output")
	}
	var got snapshotContract
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout)
	}
	if got.TakenAt.IsZero() || got.Postgres == nil || got.Probe == nil || !got.Probe.OK || got.Redis == nil || got.Jobs == nil ||
		len(got.Errors) != 0 || got.Alerts == nil || got.Findings == nil {
		t.Fatalf("missing parts of the contract: %s", stdout)
	}
	for _, key := range []string{`"sqlstate"`, `"error"`, `"blocked_by"`, `"oldest_idle_seconds"`, `"lib_name"`, `"over_capacity"`, `"reserved_connections"`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("the JSON lacks the documented key %s", key)
		}
	}

	// PostgreSQL: the same client backends, by pid and by state.
	pg := got.Postgres
	wantPIDs := p.Psql(t, "postgres", "SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> 'psql'")
	// psql's own backends (setup, this check) may still be exiting: they
	// are left out on both sides.
	var pids []string
	byState := map[string]int{}
	for _, s := range pg.Sessions {
		if s.BlockedBy == nil {
			t.Errorf("session %d: blocked_by must be an array", s.PID)
		}
		if s.ApplicationName == "psql" {
			continue
		}
		pids = append(pids, strconv.Itoa(int(s.PID)))
		byState[s.State]++
	}
	if strings.Join(pids, ",") != wantPIDs || len(pids) != 6 || pg.Total != len(pg.Sessions) {
		t.Errorf("sessions %v (total %d), pg_stat_activity has %s", pids, pg.Total, wantPIDs)
	}
	wantStates := p.Psql(t, "postgres", "SELECT string_agg(state || '=' || n, ',' ORDER BY state) FROM (SELECT state, count(*) n FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> 'psql' GROUP BY state) s")
	var states []string
	for _, st := range slices.Sorted(maps.Keys(byState)) {
		states = append(states, fmt.Sprintf("%s=%d", st, byState[st]))
	}
	if strings.Join(states, ",") != wantStates || pg.ByState["idle"] < 4 {
		t.Errorf("by_state %v (%v), pg_stat_activity says %s", states, pg.ByState, wantStates)
	}
	if pg.MaxConnections != 30 || len(pg.Groups) < 2 || pg.Groups[0].ApplicationName != "django" || pg.Groups[0].ByState["idle"] != 4 ||
		pg.Groups[1].ApplicationName != "celery" || pg.Groups[1].ByState["idle in transaction"] != 2 {
		t.Errorf("max_connections %d, groups %+v", pg.MaxConnections, pg.Groups)
	}

	// Redis: the same clients as CLIENT LIST, less the verifying connection.
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	ownID, _ := snapRedisDo(c, rd, "CLIENT ID")
	list, err := snapRedisDo(c, rd, "CLIENT LIST")
	if err != nil {
		t.Fatal(err)
	}
	var listed, collected []string
	for line := range strings.Lines(list) {
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
		if ":"+id != ownID {
			listed = append(listed, id)
		}
	}
	for _, cl := range got.Redis.Clients {
		collected = append(collected, strconv.FormatInt(cl.ID, 10))
	}
	slices.Sort(listed)
	slices.Sort(collected)
	if !slices.Equal(listed, collected) || got.Redis.ConnectedClients != 81 || got.Redis.MaxClients != 200 {
		t.Errorf("redis: %d clients collected, CLIENT LIST has %d others; connected_clients %d (want 80 + slotwatch), maxclients %d",
			len(collected), len(listed), got.Redis.ConnectedClients, got.Redis.MaxClients)
	}
	if g := got.Redis.Groups; len(g) != 2 || g[0].Name != "rq-worker-#" || g[0].Count != 50 || g[1].Name != "" || g[1].Count != 30 || g[0].Host != "127.0.0.1" {
		t.Errorf("redis groups %+v", g)
	}

	if j := got.Jobs.OverCapacity; len(j) != 1 || j[0].ID != "12345" || j[0].Excess != 1 {
		t.Errorf("jobs over capacity %+v, want job 12345 by 1", j)
	}
}

func testSnapshotText(t *testing.T, p *testserver.Postgres, r *testserver.Redis) {
	snapHoldPG(t, p.DSNFor("postgres", "postgres"), "analytics", 3, "")
	code, stdout, stderr := snapRun(t, "snapshot", "--pg", p.DSN, "--redis", r.URL)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var used, sessions, own int
	if m := regexp.MustCompile(`slots used: (\d+) of 27 usable: (\d+) client sessions and (\d+) of slotwatch's own`).FindStringSubmatch(stdout); m == nil {
		t.Errorf("the summary lacks the slots-used line:\n%s", stdout)
	} else {
		used, _ = strconv.Atoi(m[1])
		sessions, _ = strconv.Atoi(m[2])
		own, _ = strconv.Atoi(m[3])
		if used != sessions+own || sessions < 3 || own < 1 {
			t.Errorf("slots used %d should be the %d sessions (at least the 3 held) plus slotwatch's own %d (at least 1)", used, sessions, own)
		}
	}
	for _, want := range []string{"PostgreSQL 127.0.0.1:", "of 27 usable", "Connect probe: connected", "Redis 127.0.0.1:", "of maxclients 200"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout)
		}
	}
	// The postgres database has no TalentFlow tables and no jobs.query is
	// configured: the jobs collector does not run, so no section at all.
	if strings.Contains(stdout, "Job capacity") {
		t.Errorf("jobs section without a jobs query or tables:\n%s", stdout)
	}
	groupRow := false
	for line := range strings.Lines(stdout) {
		groupRow = groupRow || strings.Contains(line, "analytics") && strings.Contains(line, "idle 3")
	}
	if !groupRow {
		t.Errorf("the summary lacks the analytics group with its 3 idle sessions:\n%s", stdout)
	}
}

func testSnapshotFailures(t *testing.T, p *testserver.Postgres) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, args := range [][]string{
		{"snapshot", "--pg", "postgres://app:Sup3rSecret@" + addr + "/db?sslmode=disable"},
		{"snapshot", "--json", "--pg", p.DSN, "--redis", "redis://:Sup3rSecret@" + addr + "/0"},
	} {
		code, stdout, stderr := snapRun(t, args...)
		if code != exitError {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		if !strings.Contains(stderr, "slotwatch: ") || !strings.Contains(stderr, addr) || !strings.Contains(stderr, "connection refused") {
			t.Errorf("%v: stderr %q, want a sentence naming %s", args, stderr, addr)
		}
		if strings.Contains(stdout+stderr, "Sup3rSecret") {
			t.Errorf("%v: the password appears in the output", args)
		}
	}
	// A database that does not exist is a failed source, never a healthy
	// server with no sessions.
	for _, asJSON := range []bool{false, true} {
		args := []string{"snapshot", "--pg", p.DSN, "--db", "nosuchdb"}
		if asJSON {
			args = append(args, "--json")
		}
		code, stdout, stderr := snapRun(t, args...)
		if code != exitError || !strings.Contains(stderr, "nosuchdb does not exist") || strings.Contains(stdout, "client sessions") || strings.Contains(stdout, `"total"`) {
			t.Errorf("%v: exit %d, want 1 with the error and no numbers:\n%s\n%s", args, code, stdout, stderr)
		}
	}
	code, _, stderr := snapRun(t, "snapshot")
	if code != exitUsage || !strings.Contains(stderr, "no server to watch") {
		t.Errorf("no targets: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = snapRun(t, "snapshot", "--pg", "postgres://app:Sup3rSecret@host:notaport/db")
	if code != exitUsage || !strings.Contains(stderr, "is not valid") || strings.Contains(stderr, "Sup3rSecret") {
		t.Errorf("bad DSN: exit %d, stderr %q", code, stderr)
	}
}

func TestCollectorsConfigFollowsTheSettings(t *testing.T) {
	resolve := func(yaml string, flags targetFlags) *settings {
		t.Helper()
		flags.configPath = writeConfig(t, yaml)
		s, err := flags.resolve(envFrom(map[string]string{"HOME": t.TempDir()}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := resolve("interval: 2s\nprobe:\n  dsn: postgres://app@db/app\njobs:\n  query: SELECT 1\n", targetFlags{pg: serverFlag{{Target: "postgres://watch@db/app"}}, db: "app"})
	cfg, err := collectorsConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PG == nil || cfg.PG.DSN != "postgres://watch@db/app" || cfg.PG.DB != "app" || cfg.PG.Interval != 2*time.Second {
		t.Errorf("pg config = %+v", cfg.PG)
	}
	if cfg.Probe == nil || cfg.Probe.DSN != "postgres://app@db/app" || cfg.Probe.Interval != 10*time.Second {
		t.Errorf("the probe must use probe.dsn every 10 s by default: %+v", cfg.Probe)
	}
	if cfg.Jobs == nil || cfg.Jobs.DSN != "postgres://watch@db/app" || cfg.Jobs.Query != "SELECT 1" || cfg.Jobs.Interval != 10*time.Second {
		t.Errorf("jobs must run on the pg target with jobs.query every 10 s: %+v", cfg.Jobs)
	}
	if cfg.Redis != nil {
		t.Errorf("redis was not given but is configured: %+v", cfg.Redis)
	}

	s = resolve("probe:\n  interval: 0s\njobs:\n  disabled: true\n", targetFlags{redis: serverFlag{{Target: "redis://cache:6379/0"}}})
	cfg, err = collectorsConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PG != nil || cfg.Probe != nil || cfg.Jobs != nil || cfg.Redis == nil || cfg.Redis.URL != "redis://cache:6379/0" {
		t.Errorf("redis only, probe 0 and jobs disabled gave %+v", cfg)
	}
	s = resolve("probe:\n  interval: 0s\njobs:\n  disabled: true\n", targetFlags{pg: serverFlag{{Target: "postgres://watch@db/app"}}})
	if cfg, _ := collectorsConfig(s); cfg.Probe != nil || cfg.Jobs != nil {
		t.Errorf("probe.interval 0 and jobs.disabled must switch them off: %+v", cfg)
	}
	if _, err := collectorsConfig(resolve("", targetFlags{})); !errors.Is(err, errNoTargets) {
		t.Errorf("no targets gave %v", err)
	}
}
