package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// The least-privilege setups the README's "Monitoring role" section gives,
// run as written. Each Redis command in the ACL was found necessary by
// taking it away (the test then fails), except +client|no-evict (keeps
// slotwatch's own client from being evicted under memory pressure) and
// +select (a URL naming a database other than 0).
const (
	pgReadGrant      = "GRANT pg_monitor TO monitor"
	pgSignalGrant    = "GRANT pg_signal_backend TO monitor"
	pgGuardGrant     = "ALTER ROLE monitor CREATEROLE"
	redisLeastACL    = "on >s3cret resetkeys resetchannels -@all +info +client|id +client|setname +client|list +client|kill +client|no-evict +config|get +config|set +select"
	redisMonitorUser = "slotwatch"
)

func TestLeastPrivilegePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	pg.Psql(t, "postgres", "CREATE ROLE monitor LOGIN; CREATE ROLE web LOGIN")
	pg.Psql(t, "postgres", "CREATE DATABASE talentflow")
	dsn := pg.DSNFor("monitor", "postgres")
	pg.Psql(t, "postgres", pgReadGrant+"; "+pgSignalGrant)
	m := &mitigationServers{pg: pg}
	victim := m.session(t, "web", "leaky-web")

	code, out, errOut := mitRun(t, "snapshot", "--pg", dsn, "--json")
	var snap collectors.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil || code != exitOK || snap.Postgres == nil || snap.Postgres.HiddenSessions != 0 {
		t.Fatalf("reading with pg_monitor: exit %d %v %s", code, err, errOut)
	}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	if code, out, errOut := mitRun(t, "terminate", "--pg", dsn, "--audit-log", audit, "--app", "leaky-web", "--state", "idle", "--yes"); code != exitOK || !strings.Contains(out, "done 1,") {
		t.Fatalf("terminating with pg_signal_backend: exit %d\n%s%s", code, out, errOut)
	}
	if len(m.alive(t, victim)) != 0 {
		t.Fatal("the idle session survived a terminate by a role with pg_signal_backend")
	}

	guard := []string{"guard", "set", "idle_session_timeout", "5min", "--role", "web", "--pg", dsn, "--audit-log", audit, "--yes"}
	if code, _, _ := mitRun(t, guard...); code != exitError {
		t.Fatalf("a guard without CREATEROLE: exit %d, want 1 (PostgreSQL refuses ALTER ROLE)", code)
	}
	pg.Psql(t, "postgres", pgGuardGrant)
	if code, out, errOut := mitRun(t, guard...); code != exitOK {
		t.Fatalf("a guard with CREATEROLE: exit %d\n%s%s", code, out, errOut)
	}
	if got := pg.Psql(t, "postgres", `SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setrole = 'web'::regrole`); got != "idle_session_timeout=5min" {
		t.Fatalf("the guard set %q on role web", got)
	}
}

func TestLeastPrivilegeRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis")
	}
	rd := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 100})
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer admin.Close()
	if err := admin.Do(ctx, append([]any{"ACL", "SETUSER", redisMonitorUser}, anys(strings.Fields(redisLeastACL))...)...).Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	victim := redis.NewClient(&redis.Options{Addr: rd.Addr, ClientName: "victim-1", PoolSize: 1})
	defer victim.Close()
	if err := victim.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	url := "redis://" + redisMonitorUser + ":s3cret@" + rd.Addr + "/0"
	audit := filepath.Join(t.TempDir(), "audit.jsonl")

	code, out, errOut := mitRun(t, "snapshot", "--redis", url, "--json")
	var snap collectors.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil || code != exitOK || snap.Redis == nil || len(snap.Redis.Clients) == 0 {
		t.Fatalf("reading Redis with the least ACL: exit %d %v\n%s", code, err, errOut)
	}
	if code, out, errOut := mitRun(t, "redis-kill", "--redis", url, "--audit-log", audit, "--name", "victim-*", "--yes"); code != exitOK || !strings.Contains(out, "done 1,") {
		t.Fatalf("CLIENT KILL with the least ACL: exit %d\n%s%s", code, out, errOut)
	}
	for _, verb := range [][]string{{"set", "redis-timeout", "300s"}, {"revert", "redis-timeout"}} {
		args := append(append([]string{"guard"}, verb...), "--redis", url, "--audit-log", audit, "--yes")
		if code, out, errOut := mitRun(t, args...); code != exitOK {
			t.Fatalf("guard %v with the least ACL: exit %d\n%s%s", verb, code, out, errOut)
		}
	}
	if strings.Contains(out+errOut, "s3cret") {
		t.Fatal("the ACL user's password was printed")
	}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// TestReadmeGivesTheTestedSetups: the README's "Monitoring role" shows
// exactly the grants and the ACL these tests run.
func TestReadmeGivesTheTestedSetups(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	acl := "ACL SETUSER " + redisMonitorUser + " " + strings.Replace(redisLeastACL, ">s3cret", ">PASSWORD", 1)
	for _, want := range []string{pgReadGrant, pgSignalGrant, pgGuardGrant, acl} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md does not show the tested setup %q", want)
		}
	}
}
