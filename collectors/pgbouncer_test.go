package collectors

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// showPoolsDirect reads SHOW POOLS with psql, independently of the
// collector, and returns the row of database/user by column name.
func showPoolsDirect(t *testing.T, b *testserver.PgBouncer, database, user string) map[string]string {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not installed (package postgresql-client)")
	}
	out, err := exec.Command(psql, "-X", "-A", "-F", "|", "-h", b.Host, "-p", strconv.Itoa(b.Port), "-U", "pgbouncer", "-d", "pgbouncer", "-c", "SHOW POOLS").CombinedOutput()
	if err != nil {
		t.Fatalf("psql SHOW POOLS: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	header := strings.Split(lines[0], "|")
	for _, line := range lines[1:] {
		vals := strings.Split(line, "|")
		if len(vals) != len(header) {
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = vals[i]
		}
		if row["database"] == database && row["user"] == user {
			return row
		}
	}
	t.Fatalf("SHOW POOLS has no %s/%s row:\n%s", database, user, out)
	return nil
}

// holdThroughPool runs n clients through pgbouncer, each holding a server
// connection in pg_sleep: with a pool of 5, n-5 of them wait for a server.
func holdThroughPool(t *testing.T, b *testserver.PgBouncer, n int, app string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i := range n {
		cfg, err := pgx.ParseConfig(b.DSNFor("app") + "&application_name=" + app)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("client %d through pgbouncer: %v", i, err)
		}
		wg.Go(func() {
			defer conn.Close(context.Background())
			_, _ = conn.Exec(ctx, "SELECT pg_sleep(30)")
		})
	}
}

func TestPgBouncerCollectorMatchesShowPools(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 50})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	b := testserver.StartPgBouncer(t, pg, testserver.PgBouncerOptions{DefaultPoolSize: 5, Users: []string{"app"}})
	holdThroughPool(t, b, 30, "talentflow-web")

	// Wait until every client is either served or queued, as SHOW POOLS
	// read directly says.
	deadline := time.Now().Add(15 * time.Second)
	for {
		row := showPoolsDirect(t, b, "talentflow", "app")
		if row["cl_waiting"] == "25" && row["sv_active"] == "5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool never reached 5 active / 25 waiting: %v", row)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond) // let maxwait reach at least a second

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap := CollectOnce(ctx, Config{PgBouncer: &PgBouncerConfig{DSN: b.AdminDSN}})
	if msg := snap.Errors[SourcePgBouncer]; msg != "" {
		t.Fatalf("pgbouncer collector: %s", msg)
	}
	st := snap.PgBouncer
	direct := showPoolsDirect(t, b, "talentflow", "app")
	var pool *PgBouncerPool
	for i := range st.Pools {
		if st.Pools[i].Database == "talentflow" && st.Pools[i].User == "app" {
			pool = &st.Pools[i]
		}
	}
	if pool == nil {
		t.Fatalf("collector has no talentflow/app pool: %+v", st.Pools)
	}
	for col, got := range map[string]int{"cl_active": pool.ClActive, "cl_waiting": pool.ClWaiting, "sv_active": pool.SvActive} {
		if direct[col] != strconv.Itoa(got) {
			t.Errorf("%s: collector %d, SHOW POOLS %s", col, got, direct[col])
		}
	}
	directWait, _ := strconv.ParseFloat(direct["maxwait"], 64)
	if pool.MaxWaitSeconds < 1 || pool.MaxWaitSeconds > directWait+1 {
		t.Errorf("maxwait %.3fs, SHOW POOLS read just after says %ss", pool.MaxWaitSeconds, direct["maxwait"])
	}
	if st.Waiting() != 25 || pool.PoolMode != "transaction" || st.Settings.DefaultPoolSize != 5 {
		t.Errorf("waiting %d, pool_mode %q, default_pool_size %d; want 25, transaction, 5", st.Waiting(), pool.PoolMode, st.Settings.DefaultPoolSize)
	}
	if !strings.HasPrefix(st.Version, "1.") {
		t.Errorf("version %q, want pgbouncer's 1.x", st.Version)
	}
	waitingApp := 0
	for _, c := range st.ClientsByApp {
		if c.ApplicationName == "talentflow-web" && c.State == "waiting" {
			waitingApp = c.Count
		}
	}
	if waitingApp != 25 {
		t.Errorf("clients_by_app has %d waiting talentflow-web clients, want 25: %+v", waitingApp, st.ClientsByApp)
	}
	assertServersLinkToBackends(t, pg, st)
}

// assertServersLinkToBackends checks that every active server connection's
// remote_pid is a PostgreSQL backend running the clients' pg_sleep.
func assertServersLinkToBackends(t *testing.T, pg *testserver.Postgres, st *PgBouncerStats) {
	t.Helper()
	active := 0
	for _, s := range st.Servers {
		if s.State != "active" {
			continue
		}
		active++
		q := pg.Psql(t, "postgres", fmt.Sprintf("SELECT query FROM pg_stat_activity WHERE pid = %d", s.RemotePID))
		if !strings.Contains(q, "pg_sleep") {
			t.Errorf("server connection remote_pid %d runs %q, want the clients' pg_sleep", s.RemotePID, q)
		}
		if db, user, ok := st.PoolOf(s.RemotePID); !ok || db != "talentflow" || user != "app" {
			t.Errorf("PoolOf(%d) = %s/%s %v, want talentflow/app", s.RemotePID, db, user, ok)
		}
	}
	if active != 5 {
		t.Errorf("%d active server connections, want the pool's 5", active)
	}
}

func TestPgBouncerCollectorDownThenStale(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := newPgBouncerCollector(PgBouncerConfig{DSN: "postgres://pgbouncer:s3cret-pw@127.0.0.1:1/pgbouncer?sslmode=disable", Interval: time.Second, ConnectTimeout: time.Second})
	var snap Snapshot
	snap.Errors = map[string]string{}
	c.collect(ctx)(&snap)
	if snap.PgBouncer != nil {
		t.Fatalf("a pgbouncer that never answered has numbers: %+v", snap.PgBouncer)
	}
	msg := snap.Errors[SourcePgBouncer]
	if msg == "" || strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("error %q: want a sentence without the password", msg)
	}
}
