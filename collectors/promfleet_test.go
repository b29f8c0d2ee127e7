package collectors

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/promtest"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// fleetLab is n throwaway PostgreSQL and n Redis servers, each behind the
// real Debian exporter, scraped every second by a real Prometheus.
type fleetLab struct {
	prom  *promtest.Server
	pg    []*testserver.Postgres
	redis []*testserver.Redis
	// pgExp and redisExp are each server's exporter address, the
	// instance label of its series.
	pgExp, redisExp []string
}

// fleetRules fire per instance, so ALERTS carries job and instance.
const fleetRules = `groups:
  - name: fleet
    rules:
      - alert: PostgresDown
        expr: pg_up == 0
      - alert: TargetDown
        expr: up == 0
      - alert: ManyConnections
        expr: sum by (job, instance) (pg_stat_activity_count) >= 5
`

func startFleetLab(t *testing.T, n int) *fleetLab {
	t.Helper()
	lab := &fleetLab{}
	template := testserver.InitTemplate(t, "")
	var pgTargets, redisTargets []promtest.LabeledTarget
	for i := range n {
		p := testserver.StartPostgres(t, testserver.PGOptions{Template: template, MaxConnections: 20 + 5*i,
			Settings: map[string]string{"shared_buffers": "8MB", "max_wal_senders": "0", "autovacuum": "off"}})
		e := testserver.StartPostgresExporter(t, p.DSN)
		r := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 50 + 10*i})
		re := testserver.StartRedisExporter(t, r.Addr)
		lab.pg, lab.redis = append(lab.pg, p), append(lab.redis, r)
		lab.pgExp, lab.redisExp = append(lab.pgExp, e.Addr), append(lab.redisExp, re.Addr)
		labels := func(port string) map[string]string {
			return map[string]string{"cluster": "c" + strconv.Itoa(i%3), "region": []string{"eu", "us"}[i%2],
				"host": "127.0.0.1", "port": port}
		}
		pgTargets = append(pgTargets, promtest.LabeledTarget{Addr: e.Addr, Labels: labels(strconv.Itoa(p.Port))})
		_, rport, _ := strings.Cut(r.Addr, ":")
		redisTargets = append(redisTargets, promtest.LabeledTarget{Addr: re.Addr, Labels: labels(rport)})
	}
	lab.prom = promtest.StartPrometheus(t, promtest.PrometheusConfig{
		RuleFiles: map[string]string{"fleet.yml": fleetRules},
		Jobs:      []promtest.ScrapeJob{{Name: "postgres", Targets: pgTargets}, {Name: "redis", Targets: redisTargets}},
	})
	return lab
}

// pgOwnCount is the server's own count of what postgres_exporter counts
// (every backend with a database), leaving out the asking connection.
func pgOwnCount(ctx context.Context, p *testserver.Postgres) (used, maxConn, reserved int, err error) {
	conn, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `select (select count(*) from pg_stat_activity where datname is not null and pid <> pg_backend_pid()),
		current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int
		+ coalesce((select setting::int from pg_settings where name = 'reserved_connections'), 0)`).Scan(&used, &maxConn, &reserved)
	return used, maxConn, reserved, err
}

// redisOwnCount is INFO's connected_clients and maxclients from a fresh
// client, closed after: the asking client stands for the exporter's own
// per-scrape connection, which redis_exporter counts.
func redisOwnCount(r *testserver.Redis) (clients, maxClients int, err error) {
	c, err := dialRedis("tcp", r.Addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	info, err := c.do("INFO clients")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
			clients, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "maxclients:"); ok {
			maxClients, _ = strconv.Atoi(v)
		}
	}
	if maxClients == 0 {
		return 0, 0, fmt.Errorf("INFO clients of %s has no maxclients", r.Addr)
	}
	return clients, maxClients, nil
}

func byLabel(st *PromFleetStats, kind, instance string) *FleetInstance {
	for i := range st.Instances {
		if st.Instances[i].Kind == kind && st.Instances[i].Labels["instance"] == instance {
			return &st.Instances[i]
		}
	}
	return nil
}

// compareFleet says how the fleet differs from the servers' own numbers
// ("" when it equals them).
func compareFleet(ctx context.Context, lab *fleetLab, st *PromFleetStats) string {
	var diffs []string
	for i, p := range lab.pg {
		in := byLabel(st, FleetPostgres, lab.pgExp[i])
		used, maxConn, reserved, err := pgOwnCount(ctx, p)
		switch {
		case err != nil:
			diffs = append(diffs, err.Error())
		case in == nil:
			diffs = append(diffs, "postgres "+lab.pgExp[i]+" missing")
		case in.State != FleetUp || in.Used != known(float64(used)) || in.Max != known(float64(maxConn)) || in.Reserved != known(float64(reserved)):
			diffs = append(diffs, fmt.Sprintf("postgres %d: fleet %s used %v max %v reserved %v, server %d/%d/%d", i, in.State, in.Used, in.Max, in.Reserved, used, maxConn, reserved))
		}
	}
	for i, r := range lab.redis {
		in := byLabel(st, FleetRedis, lab.redisExp[i])
		clients, maxClients, err := redisOwnCount(r)
		switch {
		case err != nil:
			diffs = append(diffs, err.Error())
		case in == nil:
			diffs = append(diffs, "redis "+lab.redisExp[i]+" missing")
		case in.State != FleetUp || in.Used != known(float64(clients)) || in.Max != known(float64(maxClients)):
			diffs = append(diffs, fmt.Sprintf("redis %d: fleet %s used %v max %v, server %d/%d", i, in.State, in.Used, in.Max, clients, maxClients))
		}
	}
	return strings.Join(diffs, "; ")
}

// waitFleet refreshes until cond holds of a refresh, or fails with the
// last refresh's difference.
func waitFleet(t *testing.T, c *promFleetCollector, cond func(*PromFleetStats) string) *PromFleetStats {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.read(ctx, time.Now())
		why := ""
		if err != nil {
			why = err.Error()
		} else if why = cond(st); why == "" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fleet never matched: %s", why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestPromFleetEqualsTheServers(t *testing.T) {
	const n = 10
	lab := startFleetLab(t, n)
	ctx := context.Background()
	for i, p := range lab.pg {
		for range i % 7 {
			conn := hold(t, p.DSN, "app")
			t.Cleanup(func() { closeAll(conn) })
		}
	}
	for i, r := range lab.redis {
		holdRedis(t, "tcp", r.Addr, "", 3*i)
	}
	c, err := newPromFleetCollector(PromFleetConfig{URL: lab.prom.URL, Interval: time.Second, GroupBy: []string{"cluster", "region"},
		Live: LiveTemplates{Postgres: "postgres://postgres@{{.host}}:{{.port}}/postgres?sslmode=disable", Redis: "redis://{{.host}}:{{.port}}/0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()

	st := waitFleet(t, c, func(st *PromFleetStats) string { return compareFleet(ctx, lab, st) })
	if len(st.Instances) != 2*n {
		t.Fatalf("want %d instances, got %d", 2*n, len(st.Instances))
	}
	if st.Queries != 4 {
		t.Errorf("a refresh took %d queries, want 4 whatever the fleet's size", st.Queries)
	}
	for _, in := range st.Instances {
		if in.Labels["cluster"] == "" || in.Labels["region"] == "" || in.Labels["host"] != "127.0.0.1" {
			t.Errorf("%s lost its target labels: %v", in.Key, in.Labels)
		}
		if age := st.EvaluatedAt.Sub(in.SampleAt); in.SampleAt.IsZero() || age < 0 || age > 30*time.Second {
			t.Errorf("%s: sample time %v is not its scrape's (evaluated %v)", in.Key, in.SampleAt, st.EvaluatedAt)
		}
	}
	// Ranked by headroom: the fullest ratio first among instances that
	// are all up.
	for i := 1; i < len(st.Instances); i++ {
		a, _ := st.Instances[i-1].Ratio()
		b, _ := st.Instances[i].Ratio()
		if a < b {
			t.Fatalf("not ranked by headroom: %s %.3f before %s %.3f", st.Instances[i-1].Key, a, st.Instances[i].Key, b)
		}
	}
	// Instances with 5 or more sessions fire the team's rule, on them only.
	st = waitFleet(t, c, func(st *PromFleetStats) string {
		for i := range lab.pg {
			in := byLabel(st, FleetPostgres, lab.pgExp[i])
			want := in.Used.V >= 5
			if got := len(in.Alerts) == 1 && in.Alerts[0] == "ManyConnections"; got != want {
				return fmt.Sprintf("postgres %d with %v used has alerts %v", i, in.Used, in.Alerts)
			}
		}
		return ""
	})
	// The sparkline is the range query's used connections, ending at the
	// current value.
	in := byLabel(st, FleetPostgres, lab.pgExp[6])
	if len(in.Spark) != c.cfg.Points+1 || in.Spark[len(in.Spark)-1] != in.Used.V {
		t.Errorf("postgres 6's sparkline %v does not end at its value %v", in.Spark, in.Used)
	}

	t.Run("the live target from the labels reaches the instance", func(t *testing.T) {
		pgIn, rIn := byLabel(st, FleetPostgres, lab.pgExp[3]), byLabel(st, FleetRedis, lab.redisExp[5])
		if pgIn.LiveError != "" || rIn.LiveError != "" {
			t.Fatalf("live targets: %q, %q", pgIn.LiveError, rIn.LiveError)
		}
		snap := CollectOnce(ctx, Config{PG: &PGConfig{DSN: pgIn.Live}, Redis: &RedisConfig{URL: rIn.Live}})
		if snap.Postgres == nil || snap.Redis == nil {
			t.Fatalf("collecting %s and %s live: %v", pgIn.Live, rIn.Live, snap.Errors)
		}
		if float64(snap.Postgres.MaxConnections) != pgIn.Max.V || float64(snap.Redis.MaxClients) != rIn.Max.V {
			t.Errorf("live %s says max %d / %s maxclients %d; the fleet says %v / %v", pgIn.Live, snap.Postgres.MaxConnections,
				rIn.Live, snap.Redis.MaxClients, pgIn.Max, rIn.Max)
		}
	})

	t.Run("a stopped server is DOWN, first", func(t *testing.T) {
		lab.pg[2].Stop(t)
		lab.redis[4].Stop(t)
		st := waitFleet(t, c, func(st *PromFleetStats) string {
			pg, r := byLabel(st, FleetPostgres, lab.pgExp[2]), byLabel(st, FleetRedis, lab.redisExp[4])
			// postgres_exporter may time out on a stopped server (up=0)
			// rather than say pg_up=0: either is DOWN, and alerts.
			if pg.State != FleetDown || r.State != FleetDown || len(pg.Alerts) != 1 || (pg.Alerts[0] != "PostgresDown" && pg.Alerts[0] != "TargetDown") {
				alerts, _ := lab.prom.Query(context.Background(), "ALERTS")
				up, _ := lab.prom.Query(context.Background(), `{__name__=~"up|pg_up", instance="`+lab.pgExp[2]+`"}`)
				return fmt.Sprintf("pg %s (%s) %v, redis %s (%s); ALERTS %v; up %v", pg.State, pg.Why, pg.Alerts, r.State, r.Why, alerts, up)
			}
			return ""
		})
		if st.Instances[0].State != FleetDown || st.Instances[1].State != FleetDown {
			t.Errorf("DOWN instances are not listed first: %s, %s", st.Instances[0].Key, st.Instances[1].Key)
		}
		pg := byLabel(st, FleetPostgres, lab.pgExp[2])
		if pg.Used.Known || pg.Max.Known {
			t.Errorf("a down server shows numbers: used %v max %v", pg.Used, pg.Max)
		}
		if !strings.Contains(pg.Why, "pg_up=0") && !strings.Contains(pg.Why, "up=0") {
			t.Errorf("why: %q", pg.Why)
		}
	})
}
