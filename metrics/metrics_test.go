package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// incidentSnapshot is the shipped TalentFlow incident fixture.
func incidentSnapshot(t *testing.T) collectors.Snapshot {
	t.Helper()
	data, err := os.ReadFile("../testdata/snapshots/talentflow-incident.json")
	if err != nil {
		t.Fatal(err)
	}
	var s collectors.Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Postgres == nil || s.Redis == nil {
		t.Fatal("the incident fixture lacks PostgreSQL or Redis data")
	}
	return s
}

func exporterWith(f analysis.Frame, topN int) *Exporter {
	mb := analysis.NewFrameMailbox()
	mb.Put(f)
	return New(mb, topN)
}

func scrape(t *testing.T, e *Exporter) string {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d, %v\n%s", resp.StatusCode, err, body)
	}
	return string(body)
}

func TestIncidentMetricsPassPromtoolCheck(t *testing.T) {
	s := incidentSnapshot(t)
	f := analysis.NewPipeline(analysis.DefaultRules()).Step(s)
	out := scrape(t, exporterWith(f, DefaultTopN))
	for _, want := range []string{
		`pg_settings_max_connections 100`,
		`pg_stat_activity_count{application_name="talentflow-web",datname="talentflow",state="idle",usename="talentflow_app"} 77`,
		`pg_stat_activity_count{application_name="talentflow-web",datname="talentflow",state="disabled",usename="talentflow_app"} 0`,
		`redis_connected_clients `, `redis_config_maxclients `, `redis_rejected_connections_total `,
		`slotwatch_pg_slots_usable 97`,
		`slotwatch_probe_outcome{sqlstate="53300"} 1`,
		`slotwatch_probe_outcome{sqlstate="00000"} 0`,
		`slotwatch_alert_state{alertname="PostgresConnectionLimitReached",state="pending"} 1`,
		`slotwatch_findings{kind="persistent-connections"} 1`,
		`slotwatch_findings{kind="external-rule-inactive"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	promtoolCheck(t, out)
}

// promtoolCheck runs `promtool check metrics` on a scrape.
func promtoolCheck(t *testing.T, out string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus); `promtool check metrics` not run")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	res, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	// Exit status 3 is lint findings only. The one allowed is the name
	// pg_stat_activity_count itself, which postgres_exporter's users
	// alert on (promtool reports the same for postgres_exporter).
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("promtool check metrics failed: %v\n%s", err, res)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(res)), "\n") {
		if line != `pg_stat_activity_count non-histogram and non-summary metrics should not have "_count" suffix` {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
}

func TestZeroFilledStates(t *testing.T) {
	at := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	s := collectors.Snapshot{TakenAt: at, Errors: map[string]string{}, Postgres: &collectors.PGStats{
		Sample: collectors.Sample{SampledAt: at}, MaxConnections: 100, Total: 4,
		ByState: map[string]int{"idle": 3, collectors.HiddenState: 1},
		Groups: []collectors.SessionGroup{
			{ApplicationName: "web", Usename: "app", Datname: "shop", Total: 3, ByState: map[string]int{"idle": 3}},
			{ApplicationName: "", Usename: "", Datname: "", Total: 1, ByState: map[string]int{collectors.HiddenState: 1}},
		},
	}}
	e := exporterWith(analysis.Frame{Snapshot: s}, DefaultTopN)
	want := `
pg_stat_activity_count{application_name="",datname="",state="active",usename=""} 0
pg_stat_activity_count{application_name="",datname="",state="disabled",usename=""} 0
pg_stat_activity_count{application_name="",datname="",state="fastpath function call",usename=""} 0
pg_stat_activity_count{application_name="",datname="",state="hidden",usename=""} 1
pg_stat_activity_count{application_name="",datname="",state="idle",usename=""} 0
pg_stat_activity_count{application_name="",datname="",state="idle in transaction",usename=""} 0
pg_stat_activity_count{application_name="",datname="",state="idle in transaction (aborted)",usename=""} 0
pg_stat_activity_count{application_name="web",datname="shop",state="active",usename="app"} 0
pg_stat_activity_count{application_name="web",datname="shop",state="disabled",usename="app"} 0
pg_stat_activity_count{application_name="web",datname="shop",state="fastpath function call",usename="app"} 0
pg_stat_activity_count{application_name="web",datname="shop",state="idle",usename="app"} 3
pg_stat_activity_count{application_name="web",datname="shop",state="idle in transaction",usename="app"} 0
pg_stat_activity_count{application_name="web",datname="shop",state="idle in transaction (aborted)",usename="app"} 0
`
	if got := series(t, e, "pg_stat_activity_count"); got != strings.TrimPrefix(want, "\n") {
		t.Fatalf("pg_stat_activity_count:\n%s\nwant:\n%s", got, want)
	}
}

// manyGroups is n groups spread over dbs databases, group i holding i+1
// sessions.
func manyGroups(n, dbs int) []collectors.SessionGroup {
	gs := make([]collectors.SessionGroup, n)
	for i := range gs {
		gs[i] = collectors.SessionGroup{
			ApplicationName: fmt.Sprintf("app-%d", i), Usename: "u", Datname: fmt.Sprintf("db%d", i%dbs),
			Total: i + 1, ByState: map[string]int{"idle": i + 1}, OldestIdleSeconds: float64(i),
		}
	}
	return gs
}

func TestBoundGroupsKeepsTopNAndSumsTheRest(t *testing.T) {
	gs := manyGroups(500, 200)
	const topN = 10
	bounded := BoundGroups(gs, topN)
	if len(bounded) > 2*topN+1 {
		t.Fatalf("%d groups for top %d; want at most %d", len(bounded), topN, 2*topN+1)
	}
	total, idle := 0, 0
	for i, g := range bounded {
		total += g.Total
		idle += g.ByState["idle"]
		if i < topN && (g.Usename == Other || g.Total != 500-i) {
			t.Errorf("group %d is %+v; want the group with %d sessions", i, g, 500-i)
		}
		if i >= topN && g.ApplicationName != Other {
			t.Errorf("group %d beyond the top %d is %q, not %q", i, topN, g.ApplicationName, Other)
		}
	}
	if want := 500 * 501 / 2; total != want || idle != want {
		t.Errorf("bounded groups hold %d sessions (%d idle); want all %d", total, idle, want)
	}
	last := bounded[len(bounded)-1]
	if last.Datname != Other || last.OldestIdleSeconds < 1 {
		t.Errorf("the last group %+v should fold the remaining databases", last)
	}
	if got := BoundGroups(gs[:5], topN); len(got) != 5 {
		t.Errorf("5 groups under top %d became %d", topN, len(got))
	}
}

func TestSeriesCountIsBounded(t *testing.T) {
	at := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	rg := make([]collectors.RedisGroup, 3000)
	for i := range rg {
		rg[i] = collectors.RedisGroup{Host: fmt.Sprintf("10.0.%d.%d", i/250, i%250), Name: "c", Count: 1 + i%7}
	}
	s := collectors.Snapshot{TakenAt: at, Errors: map[string]string{},
		Postgres: &collectors.PGStats{Sample: collectors.Sample{SampledAt: at}, MaxConnections: 5000, Groups: manyGroups(4000, 900)},
		Redis:    &collectors.RedisStats{Sample: collectors.Sample{SampledAt: at}, MaxClients: 10000, Groups: rg},
	}
	const topN = 20
	e := exporterWith(analysis.Frame{Snapshot: s}, topN)
	pgSeries := count(t, e, "pg_stat_activity_count")
	if max := (2*topN + 1) * len(activityStates); pgSeries > max {
		t.Errorf("pg_stat_activity_count has %d series for 4,000 groups; want at most %d", pgSeries, max)
	}
	if n := count(t, e, "slotwatch_redis_group_clients"); n != topN+1 {
		t.Errorf("slotwatch_redis_group_clients has %d series for 3,000 groups; want %d (top %d + other)", n, topN+1, topN)
	}
	sum, kept := 0, 0
	for _, g := range rg {
		sum += g.Count
	}
	top := BoundRedisGroups(rg, topN)
	for _, g := range top {
		kept += g.Count
	}
	if last := top[len(top)-1]; last.Host != Other || len(last.keys) != len(rg)-topN || kept != sum {
		t.Errorf("the other group %s folds %d groups; bounded groups hold %d of %d clients", last.Host, len(last.keys), kept, sum)
	}
}

func TestStaleSourceIsNotExported(t *testing.T) {
	s := incidentSnapshot(t)
	s.Errors = map[string]string{collectors.SourcePostgres: "connection refused"}
	e := exporterWith(analysis.Frame{Snapshot: s}, DefaultTopN)
	if n := count(t, e, "pg_stat_activity_count"); n != 0 {
		t.Errorf("a failing PostgreSQL source still exports %d pg_stat_activity_count series", n)
	}
	if got := series(t, e, "pg_up"); got != "pg_up 0\n" {
		t.Errorf("pg_up for a failing source: %q", got)
	}
	if n := count(t, e, "redis_connected_clients"); n != 1 {
		t.Errorf("the fresh Redis source exports %d redis_connected_clients series, want 1", n)
	}
}

func TestNoFrameYetExportsOnlyTheExporter(t *testing.T) {
	e := New(analysis.NewFrameMailbox(), 0)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names bytes.Buffer
	for _, mf := range mfs {
		names.WriteString(mf.GetName() + " ")
	}
	if got := strings.TrimSpace(names.String()); got != "slotwatch_exporter_frames_skipped_total" {
		t.Errorf("before the first frame the exporter serves %q", got)
	}
}

// series renders the exporter's samples of one metric in the text format,
// without HELP and TYPE, sorted as client_golang sorts them.
func series(t *testing.T, e *Exporter, name string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			if len(labels) > 0 {
				fmt.Fprintf(&b, "%s{%s} %g\n", name, strings.Join(labels, ","), v)
			} else {
				fmt.Fprintf(&b, "%s %g\n", name, v)
			}
		}
	}
	return b.String()
}

func count(t *testing.T, e *Exporter, name string) int {
	return strings.Count(series(t, e, name), "\n")
}

func TestPgBouncerPools(t *testing.T) {
	at := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	pools := []collectors.PgBouncerPool{{Database: "talentflow", User: "app", ClActive: 20, ClWaiting: 47, SvActive: 20, MaxWaitSeconds: 3.5}}
	for i := range 30 {
		pools = append(pools, collectors.PgBouncerPool{Database: fmt.Sprintf("db%d", i), User: "u", ClActive: 1})
	}
	s := collectors.Snapshot{TakenAt: at, Errors: map[string]string{}, PgBouncer: &collectors.PgBouncerStats{
		Sample: collectors.Sample{SampledAt: at}, Settings: collectors.PgBouncerSettings{DefaultPoolSize: 20, MaxClientConn: 1000}, Pools: pools}}
	e := exporterWith(analysis.Frame{Snapshot: s}, 5)
	got := series(t, e, "pgbouncer_pools_client_waiting_connections")
	if !strings.HasPrefix(got, `pgbouncer_pools_client_waiting_connections{database="db0",user="u"} 0`) ||
		!strings.Contains(got, `{database="talentflow",user="app"} 47`) || !strings.Contains(got, `{database="other",user="other"} 0`) {
		t.Errorf("pool series:\n%s", got)
	}
	if n := count(t, e, "pgbouncer_pools_client_active_connections"); n != 6 {
		t.Errorf("%d pool series for 31 pools at top 5; want 6", n)
	}
	if got := series(t, e, "pgbouncer_up"); got != "pgbouncer_up 1\n" {
		t.Errorf("pgbouncer_up: %q", got)
	}
}
