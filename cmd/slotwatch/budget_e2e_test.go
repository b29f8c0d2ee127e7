package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestConnectionBudget is the connection budget measured: a server with
// max_connections = 12 and 3 reserved slots, nine held by an ordinary role,
// and the console (collectors + the dashboard's action drivers, wired as
// watch wires them) connected as a superuser. It holds one backend, so two
// more superuser connections fit (and a third does not); the dashboard's
// terminate runs on the collector's connection; `slotwatch terminate --yes`
// works from another process once slots are free; after a PostgreSQL
// restart the console is back to one backend and its actions work. Redis:
// one client, before and after an action.
func TestConnectionBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and Redis")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 12, SuperuserReservedConns: 3})
	rs := testserver.StartRedis(t, testserver.RedisOptions{})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holdApp := func(n int) {
		for range n {
			c, err := pgx.Connect(ctx, pg.DSNFor("app", "postgres")+"&application_name=talentflow-web")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close(context.Background()) })
		}
	}
	holdApp(9)

	box := collectors.NewMailbox()
	set, err := collectors.Start(ctx, collectors.Config{
		PG:    &collectors.PGConfig{DSN: pg.DSN, Interval: 200 * time.Millisecond},
		Redis: &collectors.RedisConfig{URL: rs.URL, Interval: 200 * time.Millisecond},
	}, box)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a PostgreSQL and a Redis sample", func() bool {
		select {
		case <-box.Ready():
		case <-time.After(time.Second):
		}
		s, _ := box.Take()
		return s.Postgres != nil && s.Redis != nil
	})
	pgDrv, rdsDrv := actionDrivers(set)
	svc := actions.NewService(pgDrv, rdsDrv, actions.DefaultPolicy(), nil, actions.Operator{User: "test"})

	// Two superuser connections fit beside the console; a third does not.
	admin := superConn(t, ctx, pg)
	_ = superConn(t, ctx, pg)
	if c, err := pgx.Connect(ctx, pg.DSN); err == nil {
		_ = c.Close(ctx)
		t.Fatal("a third superuser connection fit: the console holds fewer slots than counted, or the server is not full")
	} else if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "53300" {
		t.Fatalf("third superuser connection: %v, want 53300", err)
	}
	if n := slotwatchBackends(t, admin); n != 1 {
		t.Fatalf("the console holds %d backends, want 1", n)
	}

	// K in the dashboard: on the collector's connection, no new slot.
	plan, err := actions.PreviewAs[actions.SessionPlan](ctx, svc, actions.SessionRequest{Kind: actions.Terminate, Filter: actions.SessionFilter{App: "talentflow-web", Limit: 3}})
	if err != nil || len(plan.Targets) != 3 {
		t.Fatalf("preview on a full server: %v, %v", plan.PIDs(), err)
	}
	rep, err := actions.ExecuteAs[actions.SessionReport](ctx, svc, plan)
	if err != nil || actions.Counts(rep.Results)[actions.Done] != 3 {
		t.Fatalf("terminate on a full server: %+v, %v", rep.Results, err)
	}
	if n := slotwatchBackends(t, admin); n != 1 {
		t.Fatalf("after the action the console holds %d backends, want 1", n)
	}

	// slotwatch terminate --yes from another terminal, now that slots are free.
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	code, out, errOut := mitRun(t, "terminate", "--pg", pg.DSN, "--audit-log", audit, "--app", "talentflow-web", "--yes")
	if code != exitOK || !strings.Contains(out, "done 6") {
		t.Fatalf("slotwatch terminate --yes: exit %d\n%s\n%s", code, out, errOut)
	}

	// A restart drops every connection; the console comes back with one.
	pg.Restart(t)
	admin = superConn(t, ctx, pg)
	waitFor(t, "the collector to reconnect", func() bool {
		time.Sleep(100 * time.Millisecond)
		return slotwatchBackends(t, admin) == 1
	})
	holdApp(2)
	plan, err = actions.PreviewAs[actions.SessionPlan](ctx, svc, actions.SessionRequest{Kind: actions.Terminate, Filter: actions.SessionFilter{App: "talentflow-web"}})
	if err != nil || len(plan.Targets) != 2 {
		t.Fatalf("preview after a restart: %v, %v", plan.PIDs(), err)
	}
	if rep, err := actions.ExecuteAs[actions.SessionReport](ctx, svc, plan); err != nil || actions.Counts(rep.Results)[actions.Done] != 2 {
		t.Fatalf("terminate after a restart: %+v, %v", rep.Results, err)
	}
	if n := slotwatchBackends(t, admin); n != 1 {
		t.Fatalf("after a restart the console holds %d backends, want 1", n)
	}

	// Redis: the kill runs on the collector's client.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 4})
	defer rdb.Close()
	for range 3 {
		cn := rdb.Conn()
		defer cn.Close()
		if err := cn.ClientSetName(ctx, "leaky-cache").Err(); err != nil {
			t.Fatal(err)
		}
	}
	rplan, err := actions.PreviewAs[actions.RedisPlan](ctx, svc, actions.RedisFilter{Name: "leaky-cache"})
	if err != nil || len(rplan.Targets) != 3 {
		t.Fatalf("redis preview: %d targets, %v", len(rplan.Targets), err)
	}
	if rrep, err := actions.ExecuteAs[actions.RedisReport](ctx, svc, rplan); err != nil || actions.Counts(rrep.Results)[actions.Done] != 3 {
		t.Fatalf("redis kill: %+v, %v", rrep.Results, err)
	}
	if n := slotwatchClients(t, ctx, rdb); n != 1 {
		t.Fatalf("the console holds %d Redis clients, want 1", n)
	}
}

func superConn(t *testing.T, ctx context.Context, pg *testserver.Postgres) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, pg.DSN+"&application_name=psql-oncall")
	if err != nil {
		t.Fatalf("superuser connection beside the console: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func slotwatchBackends(t *testing.T, admin *pgx.Conn) int {
	t.Helper()
	var n int
	if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'slotwatch%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func slotwatchClients(t *testing.T, ctx context.Context, rdb *redis.Client) int {
	t.Helper()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	clients, err := collectors.ParseClientList(list)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range clients {
		if strings.HasPrefix(c.Name, "slotwatch") {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // conditions query servers: do not spin
	}
}
