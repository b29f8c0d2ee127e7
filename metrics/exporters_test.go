package metrics

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// addedLabels are the labels slotwatch puts on a series the real exporters
// also export (docs/exporters.md says why); every other shared series has
// exactly the real exporter's label names.
var addedLabels = map[string][]string{
	// The connection groups: who holds the slots, not only how many.
	"pg_stat_activity_count": {"application_name", "usename"},
}

// sharedNames must stay shared: a rename on either side fails the test.
var sharedNames = []string{
	"pg_up", "pg_stat_activity_count", "pg_settings_max_connections", "pg_settings_superuser_reserved_connections",
	"redis_up", "redis_connected_clients", "redis_config_maxclients", "redis_blocked_clients",
	"redis_rejected_connections_total", "redis_connections_received_total",
}

// exporterLabel is the postgres_exporter label slotwatch's single-target
// series leave out: postgres_exporter puts the server's host:port on every
// series of its queries; slotwatch labels by server only when it watches
// several, with the configured name (the job/instance labels identify a
// single target).
const exporterLabel = "server"

// slotwatchRig is slotwatch's /metrics over real servers: the collectors,
// the analysis pipeline and this exporter, as `slotwatch --metrics` runs.
type slotwatchRig struct {
	addr    string // host:port of /metrics
	watched *frameWatch
}

func startSlotwatch(t *testing.T, ctx context.Context, cfg collectors.Config) *slotwatchRig {
	t.Helper()
	l, err := Listen("0")
	if err != nil {
		t.Fatal(err)
	}
	snaps, frames := collectors.NewHub(), analysis.NewFrameHub()
	go analysis.Stream(ctx, analysis.NewPipeline(analysis.DefaultRules()), snaps.Subscribe("analysis"), frames)
	go func() { _ = Serve(ctx, l, New(frames.Subscribe("metrics"), DefaultTopN)) }()
	rig := &slotwatchRig{addr: l.Addr().String(), watched: &frameWatch{mb: frames.Subscribe("test")}}
	if _, err := collectors.Start(ctx, cfg, snaps); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "first samples", func() string {
		f, ok := latest(rig.watched)
		if !ok || (cfg.PG != nil && f.Snapshot.Postgres == nil) || (cfg.Redis != nil && f.Snapshot.Redis == nil) {
			return "no PostgreSQL or Redis sample yet"
		}
		return ""
	})
	return rig
}

// holdRedisClients opens n clients named name (each its own connection,
// kept open until cleanup).
func holdRedisClients(t *testing.T, ctx context.Context, addr, name string, n int) {
	t.Helper()
	for i := range n {
		c := redis.NewClient(&redis.Options{Addr: addr, ClientName: fmt.Sprintf("%s-%d", name, i), PoolSize: 1})
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// blockRedisClient leaves one client blocked in BLPOP until cleanup.
func blockRedisClient(t *testing.T, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ClientName: "blocked-worker", PoolSize: 1})
	bctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.BLPop(bctx, 0, "slotwatch-test-queue").Err() }()
	// BLPOP 0 does not return on cancel; closing the client ends it.
	t.Cleanup(func() { stop(); _ = c.Close(); <-done })
}

// scrapeFamilies fetches and parses a /metrics page.
func scrapeFamilies(ctx context.Context, u string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(resp.Body)
}

// labelNames are the label names of the family's series.
func labelNames(f *dto.MetricFamily) []string {
	var names []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(names, l.GetName()) {
				names = append(names, l.GetName())
			}
		}
	}
	sort.Strings(names)
	return names
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// sumWhere sums the family's series whose labels include match, by the
// value of label by ("" sums everything under one key).
func sumWhere(f *dto.MetricFamily, match map[string]string, by string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range match {
			ok = ok && labels[k] == v
		}
		if ok {
			out[labels[by]] += value(m)
		}
	}
	return out
}

func single(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 {
		return 0, false
	}
	return value(f.GetMetric()[0]), true
}

// TestNamesMatchTheRealExporters runs the Debian postgres_exporter and
// redis_exporter beside slotwatch on the same throwaway servers and
// compares every series name they share: type, label names (slotwatch's
// additions are listed in addedLabels) and values on the same steady
// state, each tool's own connections accounted for.
func TestNamesMatchTheRealExporters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis and the real exporters")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30, SuperuserReservedConns: 2})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 150})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	pg.Psql(t, "postgres", "CREATE ROLE pgexp LOGIN SUPERUSER") // postgres_exporter's own role, to count its connections
	pg.Psql(t, "postgres", "CREATE DATABASE talentflow OWNER app")

	// No probe: its connection comes and goes every second, which the
	// real exporter would count and slotwatch leaves out.
	rig := startSlotwatch(t, ctx, collectors.Config{
		PG:    &collectors.PGConfig{DSN: pg.DSN, Interval: 300 * time.Millisecond},
		Redis: &collectors.RedisConfig{URL: rds.URL, Interval: 300 * time.Millisecond},
	})
	pgx := testserver.StartPostgresExporter(t, pg.DSNFor("pgexp", "postgres"))
	rx := testserver.StartRedisExporter(t, rds.Addr)

	holdSessions(t, ctx, pg, "talentflow-web", "idle", 5)
	holdSessions(t, ctx, pg, "worker", "idle in transaction", 2)
	holdSessions(t, ctx, pg, "report", "active", 1)
	holdRedisClients(t, ctx, rds.Addr, "sidekiq", 7)
	blockRedisClient(t, rds.Addr)
	checker := connectRetrying(t, ctx, pg.DSN)
	defer checker.Close(context.Background())

	mine := "http://" + rig.addr + "/metrics"
	var sw, real map[string]*dto.MetricFamily
	scrapeAll := func() error {
		var err error
		if sw, err = scrapeFamilies(ctx, mine); err != nil {
			return err
		}
		real = map[string]*dto.MetricFamily{}
		for _, u := range []string{pgx.MetricsURL, rx.MetricsURL} {
			fams, err := scrapeFamilies(ctx, u)
			if err != nil {
				return err
			}
			for k, v := range fams {
				real[k] = v
			}
		}
		return nil
	}

	// Names, types and label names.
	eventually(t, ctx, "slotwatch's sample shows the held sessions", func() string {
		if err := scrapeAll(); err != nil {
			return err.Error()
		}
		if got := sumWhere(sw["pg_stat_activity_count"], map[string]string{"datname": "talentflow"}, "")[""]; got != 8 {
			return fmt.Sprintf("talentflow sessions %v, want 8", got)
		}
		return ""
	})
	for _, name := range sharedNames {
		if sw[name] == nil || real[name] == nil {
			t.Errorf("%s: slotwatch has it %v, the real exporter has it %v; both should", name, sw[name] != nil, real[name] != nil)
		}
	}
	var shared []string
	for name := range sw {
		if real[name] != nil {
			shared = append(shared, name)
		}
	}
	sort.Strings(shared)
	for _, name := range shared {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue // the client library's own, in both
		}
		s, r := sw[name], real[name]
		if s.GetType() != r.GetType() {
			t.Errorf("%s: slotwatch's type %v, the real exporter's %v", name, s.GetType(), r.GetType())
		}
		sl, rl := labelNames(s), slices.DeleteFunc(labelNames(r), func(l string) bool { return l == exporterLabel })
		var missing, added []string
		for _, l := range rl {
			if !slices.Contains(sl, l) {
				missing = append(missing, l)
			}
		}
		for _, l := range sl {
			if !slices.Contains(rl, l) {
				added = append(added, l)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: slotwatch lacks the real exporter's labels %v (slotwatch %v, real %v)", name, missing, sl, rl)
		}
		if want := addedLabels[name]; fmt.Sprint(added) != fmt.Sprint(want) {
			t.Errorf("%s: slotwatch adds labels %v, docs/exporters.md and addedLabels say %v", name, added, want)
		}
	}

	// Values on the same state (re-scraped until slotwatch's sample is
	// newer than the BLPOP).
	eventually(t, ctx, "single values agree with the real exporters", func() string {
		if err := scrapeAll(); err != nil {
			return err.Error()
		}
		for _, name := range []string{"pg_up", "redis_up", "pg_settings_max_connections", "pg_settings_superuser_reserved_connections",
			"redis_config_maxclients", "redis_blocked_clients", "redis_rejected_connections_total"} {
			s, okS := single(sw, name)
			r, okR := single(real, name)
			if !okS || !okR || s != r {
				return fmt.Sprintf("%s: slotwatch %v (%v), the real exporter %v (%v); want one equal series each", name, s, okS, r, okR)
			}
		}
		if v, _ := single(sw, "redis_config_maxclients"); v != 150 {
			return fmt.Sprintf("redis_config_maxclients = %v, want 150", v)
		}
		if v, _ := single(sw, "redis_blocked_clients"); v != 1 {
			return fmt.Sprintf("redis_blocked_clients = %v, want the one BLPOP", v)
		}
		return ""
	})

	// pg_stat_activity_count. Neither tool connects to talentflow, so
	// there the states must match exactly. On database postgres each
	// counts the other's connections: postgres_exporter counts slotwatch's
	// collector (slotwatch leaves its own out and exports them as
	// slotwatch_pg_own_connections); slotwatch counts postgres_exporter's
	// pool (role pgexp, counted here from pg_stat_activity) as sessions.
	exporterOwn := func() float64 {
		var n int
		if err := checker.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pgexp'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return float64(n)
	}
	eventually(t, ctx, "pg_stat_activity_count agrees with postgres_exporter", func() string {
		before := exporterOwn()
		if err := scrapeAll(); err != nil {
			return err.Error()
		}
		if after := exporterOwn(); after != before {
			return fmt.Sprintf("postgres_exporter's pool changed from %v to %v during the scrape", before, after)
		}
		tf := map[string]string{"datname": "talentflow"}
		s, r := sumWhere(sw["pg_stat_activity_count"], tf, "state"), sumWhere(real["pg_stat_activity_count"], tf, "state")
		if fmt.Sprint(s) != fmt.Sprint(r) {
			return fmt.Sprintf("talentflow by state: slotwatch %v, postgres_exporter %v", s, r)
		}
		pgdb := map[string]string{"datname": "postgres"}
		own, _ := single(sw, "slotwatch_pg_own_connections")
		sp, rp := sumWhere(sw["pg_stat_activity_count"], pgdb, "")[""], sumWhere(real["pg_stat_activity_count"], pgdb, "")[""]
		if sp+own != rp {
			return fmt.Sprintf("database postgres: slotwatch %v + its own %v != postgres_exporter's %v", sp, own, rp)
		}
		pgexp := sumWhere(sw["pg_stat_activity_count"], map[string]string{"datname": "postgres", "usename": "pgexp"}, "")[""]
		if pgexp != before || before < 1 {
			return fmt.Sprintf("slotwatch sees %v sessions of postgres_exporter's role, pg_stat_activity %v", pgexp, before)
		}
		return ""
	})

	// redis_connected_clients is INFO's count in both; redis_exporter
	// connects for each scrape, so its value has its own connection too
	// (slotwatch's one connection is in both).
	eventually(t, ctx, "redis_connected_clients agrees with redis_exporter", func() string {
		if err := scrapeAll(); err != nil {
			return err.Error()
		}
		s, _ := single(sw, "redis_connected_clients")
		r, _ := single(real, "redis_connected_clients")
		groups := sumWhere(sw["slotwatch_redis_group_clients"], nil, "")[""]
		if s+1 != r || s != 7+1+1 || groups != s-1 {
			return fmt.Sprintf("slotwatch %v (groups %v, its own 1 left out), redis_exporter %v (its own 1 in); want 9 and 10 with 8 in groups", s, groups, r)
		}
		return ""
	})
}
