package drill

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// poolSize is the pgbouncer pool the drill runs through: smaller than the
// sessions the drill needs on the server, so the pool saturates.
const poolSize = 5

// TestDrillThroughPgBouncer runs the drill's sessions through a real
// pgbouncer in both pooling modes: the drill's clients are pgbouncer's
// (cl_active / cl_waiting, as its collector reads them), PostgreSQL never
// sees more of the drill's backends than the pool holds, and the lock
// waits and the burst still happen behind the pooler.
func TestDrillThroughPgBouncer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and pgbouncer")
	}
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) { drillThroughPgBouncer(t, mode) })
	}
}

func drillThroughPgBouncer(t *testing.T, mode string) {
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40})
	// The test pgbouncer routes its one pool to the server's database
	// postgres, so that database is the drill's: marked as the drill marks
	// its own (on this throwaway server only).
	pg.Psql(t, "postgres", "COMMENT ON DATABASE postgres IS "+quoteLiteral(Marker))
	bouncer := testserver.StartPgBouncer(t, pg, testserver.PgBouncerOptions{PoolMode: mode, DefaultPoolSize: poolSize,
		Database: "postgres", Users: []string{DefaultRole}})
	out := &syncBuffer{}
	cfg := Config{PGDSN: pg.DSN, Through: bouncer.DSNFor("ignored"), Database: "postgres", Connections: 16, Burst: 2,
		ReuseEvery: 100 * time.Millisecond, StatusEvery: time.Hour, Out: out}
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	released := false
	defer func() {
		if !released {
			d.Release()
		}
	}()
	plan := d.Plan()
	if plan.Total() != 16 {
		t.Fatalf("plan = %+v", plan)
	}
	if b := d.Status().Burst; !b.OverCapacity() || b.Accepted != 2 {
		t.Errorf("the burst through the pooler: %s", b)
	}
	if !strings.Contains(out.String(), "through the pooler at 127.0.0.1:"+strconv.Itoa(bouncer.Port)) {
		t.Errorf("the drill does not say its sessions go through the pooler:\n%s", out)
	}

	// Every request after the stage waits in pgbouncer: the held
	// transactions and the lock waits pin the pool's server connections.
	var pool collectors.PgBouncerPool
	waitFor(t, "pgbouncer clients waiting", func() bool {
		pool = drillPool(t, bouncer)
		return pool.ClWaiting > 0 && pool.ClActive+pool.ClWaiting == plan.Total()
	})
	backends := func() int {
		n, _ := strconv.Atoi(pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = '"+DefaultRole+"'"))
		return n
	}
	if n := backends(); n > poolSize || pool.SvActive+pool.SvIdle+pool.SvUsed > poolSize {
		t.Fatalf("%d backends of the drill's role on PostgreSQL (pool %+v), more than the pool of %d", n, pool, poolSize)
	}
	locks := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = '"+DefaultRole+"' AND wait_event_type = 'Lock'")
	if locks == "0" {
		t.Fatalf("no session behind the pooler waits on the row lock\n%s", out)
	}
	if st := d.Status(); st.SessionsAlive != plan.Total() || st.Gone != 0 {
		t.Fatalf("status through the pooler: %+v", st)
	}

	d.Release()
	released = true
	waitFor(t, "the drill's clients to leave pgbouncer", func() bool {
		p := drillPool(t, bouncer)
		return p.ClActive+p.ClWaiting == 0
	})
}

// drillPool is the drill role's pool as slotwatch's pgbouncer collector
// reads it.
func drillPool(t *testing.T, b *testserver.PgBouncer) collectors.PgBouncerPool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap := collectors.CollectOnce(ctx, collectors.Config{PgBouncer: &collectors.PgBouncerConfig{DSN: b.AdminDSN}})
	if snap.PgBouncer == nil {
		t.Fatalf("no pgbouncer sample: %v", snap.Errors)
	}
	for _, p := range snap.PgBouncer.Pools {
		if p.User == DefaultRole {
			return p
		}
	}
	return collectors.PgBouncerPool{}
}

func TestDrillRefusesAPoolerAsItsServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and pgbouncer")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40})
	bouncer := testserver.StartPgBouncer(t, pg, testserver.PgBouncerOptions{PoolMode: "session", Users: []string{DefaultRole}})
	_, err := Start(context.Background(), Config{PGDSN: bouncer.DSNFor("postgres")})
	if err == nil || !strings.Contains(err.Error(), "leads through a connection pooler") || !strings.Contains(err.Error(), "pooler DSN") || strings.Contains(err.Error(), "--") {
		t.Fatalf("a pooler as the drill's server: %v (want the cause and no CLI flag: a library error)", err)
	}
	// A pool that leads to another database than the drill's is refused
	// before any session is opened.
	_, err = Start(context.Background(), Config{PGDSN: pg.DSN, Through: bouncer.DSNFor("x"), Connections: 8})
	if err == nil || !strings.Contains(err.Error(), "leads to database postgres, not the drill's talentflow_drill") {
		t.Fatalf("a pool of another database: %v", err)
	}
	if err := (Config{PGDSN: "x", Through: "y", Exhaust: true}).withDefaults().validate(); err == nil {
		t.Fatal("--exhaust through a pooler accepted")
	}
}
