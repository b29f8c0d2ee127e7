package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/promtest"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// holdSessions opens n sessions as role app on database talentflow with
// the application name, leaving each in state (idle, idle in transaction
// or active); they are closed at cleanup.
func holdSessions(t *testing.T, ctx context.Context, pg *testserver.Postgres, app, state string, n int) {
	t.Helper()
	for range n {
		conn := connectRetrying(t, ctx, pg.DSNFor("app", "talentflow")+"&application_name="+app)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		switch state {
		case "idle in transaction":
			if _, err := conn.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
				t.Fatal(err)
			}
		case "active":
			// The query's goroutine owns the connection until it ends.
			qctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _, _ = conn.Exec(qctx, "SELECT pg_sleep(600)") }()
			t.Cleanup(func() { stop(); <-done }) // runs before the Close below
		}
	}
}

// shippedRulesFast is the shipped rule file with every `for` cut to 2s, so
// the test sees pending then firing in seconds, not minutes.
func shippedRulesFast(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("../deploy/prometheus/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, d := range []string{"2m", "30s", "1m", "5m"} {
		s = strings.ReplaceAll(s, "for: "+d+"\n", "for: 2s\n")
	}
	return s
}

// connectRetrying connects to dsn, retrying for two seconds: the probe
// connects every second and, even when it is refused, holds one of the
// server's process slots until it is told so, so at the limit another
// connection can be turned away with "too many clients" for a moment.
func connectRetrying(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	var err error
	for try := 0; try < 20; try++ {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, dsn); err == nil {
			return conn
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("connect to the test server: %v", err)
	return nil
}

// eventually polls check until it returns "" or the deadline passes, then
// fails with check's last complaint.
func eventually(t *testing.T, ctx context.Context, what string, check func() string) {
	t.Helper()
	last := ""
	for ctx.Err() == nil {
		if last = check(); last == "" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// TestPrometheusScrapesRealServers runs the whole path against real
// processes: a throwaway PostgreSQL and Redis with held sessions, the
// collectors and this exporter, a real Prometheus scraping it every second
// with the shipped rules (for: cut to 2s), a real Alertmanager receiving
// Prometheus's alerts, and the alerting collector reading both.
func TestPrometheusScrapesRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis, Prometheus and Alertmanager")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	am := promtest.StartAlertmanager(t)
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 20, SuperuserReservedConns: 1})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 100})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	pg.Psql(t, "postgres", "CREATE DATABASE talentflow OWNER app")

	l, err := Listen("0")
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.StartPrometheus(t, promtest.PrometheusConfig{
		Targets:      []string{l.Addr().String()},
		Alertmanager: am.Addr,
		RuleFiles: map[string]string{
			"slotwatch-rules.yaml":     shippedRulesFast(t, "slotwatch-rules.yaml"),
			"team-original-rules.yaml": shippedRulesFast(t, "team-original-rules.yaml"),
		},
	})

	snaps, frames := collectors.NewHub(), analysis.NewFrameHub()
	go analysis.Stream(ctx, analysis.NewPipeline(analysis.DefaultRules()), snaps.Subscribe("analysis"), frames)
	go func() { _ = Serve(ctx, l, New(frames.Subscribe("metrics"), DefaultTopN)) }()
	watched := &frameWatch{mb: frames.Subscribe("test")}
	cfg := collectors.Config{
		PG:       &collectors.PGConfig{DSN: pg.DSN, Interval: 500 * time.Millisecond},
		Probe:    &collectors.ProbeConfig{DSN: pg.DSNFor("app", "talentflow"), Interval: time.Second},
		Redis:    &collectors.RedisConfig{URL: rds.URL, Interval: 500 * time.Millisecond},
		Alerting: &collectors.AlertingConfig{Alertmanager: am.URL, Prometheus: prom.URL, Databases: []string{"talentflow"}, Interval: time.Second},
	}
	if _, err := collectors.Start(ctx, cfg, snaps); err != nil {
		t.Fatal(err)
	}
	// The collector is connected before the ordinary roles take every slot.
	eventually(t, ctx, "first PostgreSQL sample", func() string {
		if f, ok := latest(watched); ok && f.Snapshot.Postgres != nil {
			return ""
		}
		return "no PostgreSQL sample yet"
	})
	// 19 ordinary slots, one the collector's: 14 idle web sessions, 3 idle
	// in transaction workers and 1 active report take the rest.
	holdSessions(t, ctx, pg, "talentflow-web", "idle", 14)
	holdSessions(t, ctx, pg, "worker", "idle in transaction", 3)
	holdSessions(t, ctx, pg, "report", "active", 1)

	// The superuser's reserved slot is the checker's.
	checker := connectRetrying(t, ctx, pg.DSN)
	defer checker.Close(context.Background())
	truth := func(by string) map[string]float64 {
		rows, err := checker.Query(ctx, "SELECT "+by+", count(*) FROM pg_stat_activity WHERE datname = 'talentflow' AND backend_type = 'client backend' GROUP BY 1")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			out[k] = float64(n)
		}
		return out
	}
	promSums := func(q, by string) (map[string]float64, error) {
		samples, err := prom.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		out := map[string]float64{}
		for _, s := range samples {
			if s.Value != 0 {
				out[s.Metric[by]] = s.Value
			}
		}
		return out, nil
	}
	for _, c := range []struct{ query, by, column string }{
		{`sum by (state) (pg_stat_activity_count{datname="talentflow"})`, "state", "state"},
		{`sum by (application_name) (slotwatch_pg_group_sessions{datname="talentflow"})`, "application_name", "application_name"},
	} {
		eventually(t, ctx, "Prometheus agrees with pg_stat_activity", func() string {
			got, err := promSums(c.query, c.by)
			want := truth(c.column)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Sprintf("%s = %v (%v); pg_stat_activity by %s = %v", c.query, got, err, c.column, want)
			}
			return ""
		})
	}
	eventually(t, ctx, "zero-filled states reach Prometheus", func() string {
		s, err := prom.Query(ctx, `pg_stat_activity_count{datname="talentflow",application_name="talentflow-web",state="idle in transaction (aborted)"}`)
		if err != nil || len(s) != 1 || s[0].Value != 0 {
			return fmt.Sprintf("want one zero series, got %v %v", s, err)
		}
		return ""
	})

	// What real servers produce passes promtool too.
	resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	promtoolCheck(t, string(body))

	// The corrected rule goes pending then firing; the original never
	// matches; Alertmanager receives the firing alert.
	firing := func(rule string) string {
		s, err := prom.Query(ctx, `ALERTS{alertname="`+rule+`",alertstate="firing"}`)
		if err != nil || len(s) == 0 {
			return fmt.Sprintf("%s is not firing in Prometheus (%v)", rule, err)
		}
		return ""
	}
	eventually(t, ctx, "the shipped corrected rule fires", func() string { return firing("PostgresConnectionLimitReached") })
	eventually(t, ctx, "slotwatch's own rules fire", func() string { return firing("SlotwatchPostgresRefusingConnections") })
	// Prometheus stores the pending phase in ALERTS too: it went pending
	// before it fired.
	if s, err := prom.Query(ctx, `max_over_time(ALERTS{alertname="PostgresConnectionLimitReached",alertstate="pending"}[5m])`); err != nil || len(s) != 1 || s[0].Value != 1 {
		t.Errorf("no pending phase recorded for the corrected rule: %v %v", s, err)
	}
	if s, err := prom.Query(ctx, `pg_stat_activity_count{datname="talentflow"} >= pg_settings_max_connections * 0.9`); err != nil || len(s) != 0 {
		t.Errorf("the team's original expression returned %v (%v); it should match nothing", s, err)
	}

	eventually(t, ctx, "the alerting collector shows Alertmanager's alert as external", func() string {
		f, _ := latest(watched)
		a := f.Snapshot.Alerting
		if a == nil {
			return "no alerting data (" + f.Snapshot.Errors[collectors.SourceAlerting] + ")"
		}
		for _, x := range a.Alerts {
			if x.Name == "PostgresConnectionLimitReached" && x.State == collectors.ExternalFiring && x.External &&
				x.Labels["instance"] == l.Addr().String() {
				return ""
			}
		}
		return fmt.Sprintf("alerts %+v", a.Alerts)
	})
	f, _ := latest(watched)
	var states []string
	for _, r := range f.Snapshot.Alerting.Rules {
		states = append(states, r.Group+"/"+r.Name+"="+r.State)
	}
	slices.Sort(states)
	want := "postgres-connections-original/PostgresConnectionLimitReached=inactive postgres-connections/PostgresConnectionLimitReached=firing"
	if got := strings.Join(states, " "); got != want {
		t.Errorf("connection rules seen: %s\nwant %s", got, want)
	}
	// After 30 s over the threshold, the inactive original rule becomes
	// a finding with the corrected expression.
	eventually(t, ctx, "the inactive team rule becomes a finding", func() string {
		f, _ := latest(watched)
		for _, x := range f.Findings {
			if strings.HasPrefix(x.ID, analysis.FindingExternalRuleInactive+"/") {
				if !strings.HasPrefix(x.Title, "your rule PostgresConnectionLimitReached is inactive at ") ||
					!strings.HasSuffix(x.Title, "% — its expression matches no series") {
					return "finding title " + strconv.Quote(x.Title)
				}
				return ""
			}
		}
		return "no external-rule finding yet"
	})
}

// frameWatch keeps the newest frame the test's mailbox has seen.
type frameWatch struct {
	mb   *analysis.FrameMailbox
	last analysis.Frame
	have bool
}

func latest(w *frameWatch) (analysis.Frame, bool) {
	if f, ok := w.mb.Take(); ok {
		w.last, w.have = f, true
	}
	return w.last, w.have
}
