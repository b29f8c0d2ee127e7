package collectors

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// viewQuery is what the activity queries replaced: the pg_stat_activity view, with
// host() and date_part computed by the server for every row.
const viewQuery = `SELECT pid, backend_start, coalesce(datid, 0), coalesce(usesysid, 0),
  coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''),
  coalesce(date_part('epoch', now() - backend_start), 0),
  coalesce(date_part('epoch', now() - state_change), 0),
  coalesce(date_part('epoch', now() - xact_start), 0),
  coalesce(date_part('epoch', now() - query_start), 0),
  coalesce(wait_event_type, ''), coalesce(wait_event, ''),
  coalesce(query, ''), backend_type IS NULL
FROM pg_stat_activity
WHERE (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL AND datid IS NOT NULL))
  AND pid <> pg_backend_pid()`

// The collector's rows are the pg_stat_activity view's, field by field,
// on one snapshot: inside one transaction both read the same copy of the
// backends' status and the same now(). Sessions cover every state, a lock
// waiter, TCP over IPv4 and IPv6, a Unix socket (no address), and, for a
// plain role, rows it may not see.
func TestActivityRowsMatchPgStatActivity(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30,
		Settings: map[string]string{"listen_addresses": "'127.0.0.1,::1'"}})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN; CREATE ROLE watcher LOGIN; CREATE TABLE r (id int PRIMARY KEY); INSERT INTO r VALUES (1); GRANT ALL ON r TO app")
	ctx := context.Background()
	open, run := testSessions(t)
	app := pg.DSNFor("app", "postgres")
	run(open(app, "idle"), "SELECT 1")
	run(open(app, "idle-in-tx"), "BEGIN", "SELECT 2")
	run(open(app, "holder"), "BEGIN", "UPDATE r SET id = id WHERE id = 1")
	run(open("postgres://app@[::1]:"+portOf(pg)+"/postgres?sslmode=disable", "over-ipv6"), "SELECT 3")
	run(open("host="+pg.Dir+" port="+portOf(pg)+" user=app dbname=postgres sslmode=disable", "over-socket"), "SELECT 4")
	sleeper, waiter := open(app, "sleeper"), open(app, "waiter")
	// The busy statements end (cancelled) before their connections close:
	// cleanups run last-registered first.
	busyCtx, stop := context.WithCancel(ctx)
	var busy sync.WaitGroup
	t.Cleanup(func() { stop(); busy.Wait() })
	busy.Go(func() { _, _ = sleeper.Exec(busyCtx, "SELECT pg_sleep(600)") })
	busy.Go(func() { _, _ = waiter.Exec(busyCtx, "UPDATE r SET id = id WHERE id = 1") })
	waitLocks(t, pg, 1)
	for deadline := time.Now().Add(10 * time.Second); pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'") != "1"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sleeping session did not start within 10 s")
		}
	}

	for _, role := range []string{"postgres", "watcher"} {
		t.Run(role, func(t *testing.T) {
			conn := open(pg.DSNFor(role, "postgres"), "slotwatch-test")
			run(conn, "BEGIN")
			defer run(conn, "ROLLBACK")
			want := viewRows(t, conn)
			c := &pgCollector{waits: newWaitGraph()}
			got, _, _, _, err := c.queryActivity(ctx, conn, -1)
			if err != nil {
				t.Fatal(err)
			}
			byPID := map[int32]Session{}
			for _, s := range got {
				byPID[s.PID] = s
			}
			if len(got) != len(want) || len(got) < 7 {
				t.Fatalf("%d sessions, the view has %d (want at least the 7 held):\n%+v\n%+v", len(got), len(want), got, want)
			}
			hidden, v6, socket := 0, 0, 0
			for _, w := range want {
				g, ok := byPID[w.PID]
				if !ok {
					t.Errorf("pid %d (%s) is in the view, not in the collector's rows", w.PID, w.ApplicationName)
					continue
				}
				sameSession(t, g, w)
				switch {
				case w.Hidden:
					hidden++
				case w.ApplicationName == "over-ipv6" && w.ClientAddr == "::1":
					v6++
				case w.ApplicationName == "over-socket" && w.ClientAddr == "":
					socket++
				}
			}
			if (role == "postgres" && (v6 != 1 || socket != 1 || hidden != 0)) || (role == "watcher" && hidden < 7) {
				t.Errorf("as %s: %d hidden, %d over IPv6, %d over the socket; the held sessions were not what the test set up", role, hidden, v6, socket)
			}
		})
	}
}

// testSessions opens sessions named app that close at cleanup, and runs
// statements on them, failing the test on error.
func testSessions(t *testing.T) (open func(dsn, app string) *pgx.Conn, run func(c *pgx.Conn, sqls ...string)) {
	open = func(dsn, app string) *pgx.Conn {
		t.Helper()
		c, err := holdConn(dsn, app)
		if err != nil {
			t.Fatalf("open %s: %v", app, err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	run = func(c *pgx.Conn, sqls ...string) {
		t.Helper()
		for _, q := range sqls {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	return open, run
}

func portOf(pg *testserver.Postgres) string { return strconv.Itoa(pg.Port) }

func viewRows(t *testing.T, conn *pgx.Conn) []Session {
	t.Helper()
	rows, err := conn.Query(context.Background(), viewQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		var datid, roleid uint32
		var start pgtype.Timestamptz
		if err := rows.Scan(&s.PID, &start, &datid, &roleid, &s.ApplicationName, &s.ClientAddr, &s.State,
			&s.BackendSeconds, &s.StateSeconds, &s.XactSeconds, &s.QuerySeconds, &s.WaitEventType, &s.WaitEvent,
			&s.Query, &s.Hidden); err != nil {
			t.Fatal(err)
		}
		s.BackendStart = start.Time
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameSession compares what the collector read with the view's row;
// durations to a microsecond (the view's are float arithmetic on the
// server, ours on the client).
func sameSession(t *testing.T, got, want Session) {
	t.Helper()
	if got.BackendStart.IsZero() != want.BackendStart.IsZero() || !got.BackendStart.Equal(want.BackendStart) ||
		got.ApplicationName != want.ApplicationName || got.ClientAddr != want.ClientAddr || got.State != want.State ||
		got.WaitEventType != want.WaitEventType || got.WaitEvent != want.WaitEvent || got.Query != want.Query || got.Hidden != want.Hidden {
		t.Errorf("pid %d:\ncollector %+v\nview      %+v", want.PID, got, want)
	}
	for _, d := range []struct {
		name      string
		got, want float64
	}{{"backend", got.BackendSeconds, want.BackendSeconds}, {"state", got.StateSeconds, want.StateSeconds},
		{"xact", got.XactSeconds, want.XactSeconds}, {"query", got.QuerySeconds, want.QuerySeconds}} {
		if math.Abs(d.got-d.want) > 1e-6 {
			t.Errorf("pid %d (%s): %s seconds %v, the view says %v", want.PID, want.ApplicationName, d.name, d.got, d.want)
		}
	}
}
