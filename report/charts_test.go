package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/report/charts"
)

func chartNamed(t *testing.T, all []charts.Chart, name string) charts.Chart {
	t.Helper()
	for _, c := range all {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no chart %q among %d", name, len(all))
	return charts.Chart{}
}

func seriesNamed(t *testing.T, all []charts.Series, label string) charts.Series {
	t.Helper()
	for _, s := range all {
		if s.Label == label {
			return s
		}
	}
	t.Fatalf("no series %q", label)
	return charts.Series{}
}

// Every chart point is the snapshot's own number at the snapshot's time.
func TestChartSeriesAreTheRecordingsNumbers(t *testing.T) {
	snaps := fixtureTimeline()
	b := NewBuilder(nil)
	for _, s := range snaps {
		b.Add(s)
	}
	all := b.Charts(nil)
	slots := chartNamed(t, all, ChartSlots)
	redis := chartNamed(t, all, ChartRedis)
	groups := chartNamed(t, all, ChartGroups)
	waiting := seriesNamed(t, slots.Stack, "waiting on a lock")
	active := seriesNamed(t, slots.Stack, "active")
	idle := seriesNamed(t, slots.Stack, "idle")
	idleTx := seriesNamed(t, slots.Stack, "idle in transaction")
	usable := seriesNamed(t, slots.Limits, "usable slots")
	clients := seriesNamed(t, redis.Lines, "all clients")
	web := seriesNamed(t, groups.Lines, "talentflow-web · talentflow")
	for i, s := range snaps {
		pg := s.Postgres
		for _, c := range []struct {
			what string
			got  charts.Point
			want float64
		}{
			{"waiting", waiting.Points[i], float64(pg.Waiting)},
			{"active", active.Points[i], float64(pg.ByState["active"] - pg.Waiting)},
			{"idle", idle.Points[i], float64(pg.ByState["idle"])},
			{"idle in transaction", idleTx.Points[i], float64(pg.ByState["idle in transaction"])},
			{"usable", usable.Points[i], float64(pg.Usable())},
			{"redis clients", clients.Points[i], float64(s.Redis.ConnectedClients)},
			{"talentflow-web sessions", web.Points[i], float64(pg.Groups[0].Total)},
		} {
			if !c.got.At.Equal(s.TakenAt) || c.got.V != c.want {
				t.Fatalf("snapshot %d (%s): %s is %v at %s, want %v", i, s.TakenAt.Format(time.TimeOnly), c.what, c.got.V, c.got.At.Format(time.TimeOnly), c.want)
			}
		}
		var stacked float64
		for _, layer := range slots.Stack {
			stacked += layer.Points[i].V
		}
		if stacked != float64(pg.Used()) {
			t.Fatalf("snapshot %d: the stack is %v high, %d slots were used", i, stacked, pg.Used())
		}
	}
	if len(slots.Events) == 0 || len(slots.Bands) == 0 {
		t.Fatalf("the slots chart has %d refusals and %d alert bands; the fixture has both", len(slots.Events), len(slots.Bands))
	}
}

// A source that failed is a gap in its charts, never zero, and stays one
// when drawn.
func TestChartOutageIsAGap(t *testing.T) {
	snaps := fixtureTimeline()
	down := snaps[30].TakenAt
	snaps[30].Errors = map[string]string{collectors.SourcePostgres: "connection refused"}
	snaps[30].Redis = nil
	snaps[30].Errors[collectors.SourceRedis] = "i/o timeout"
	b := NewBuilder(nil)
	for _, s := range snaps {
		b.Add(s)
	}
	all := b.Charts(nil)
	for _, name := range []string{ChartSlots, ChartGroups, ChartRedis} {
		if got := chartNamed(t, all, name).Outages; len(got) != 1 || !got[0].From.Equal(down) || !got[0].To.Equal(down) {
			t.Errorf("%s: outages %v, want the one at %s", name, got, down.Format(time.TimeOnly))
		}
	}
	if got := chartNamed(t, all, ChartJobs).Outages; len(got) != 0 {
		t.Errorf("jobs answered throughout, outages %v", got)
	}
	for _, c := range all {
		var svg bytes.Buffer
		if err := c.SVG(&svg, charts.DefaultSize()); err != nil {
			t.Fatal(err)
		}
		if want := len(c.Outages) > 0; strings.Contains(svg.String(), "no data (source down)") != want {
			t.Errorf("%s: the legend names an outage: %v, want %v", c.Name, !want, want)
		}
		drawn := c.Drawn(charts.DefaultSize())
		for _, group := range [][]charts.Series{c.Stack, c.Lines, drawn.Stack, drawn.Lines} {
			for _, s := range group {
				if c.Name == ChartJobs {
					continue // jobs answered throughout
				}
				found := false
				for _, p := range s.Points {
					if p.At.Equal(down) {
						found = true
						if !math.IsNaN(p.V) {
							t.Fatalf("%s / %s: %v during the outage, want a gap", c.Name, s.Label, p.V)
						}
					}
				}
				if !found {
					t.Fatalf("%s / %s: no point at the outage (%s)", c.Name, s.Label, down.Format(time.TimeOnly))
				}
			}
		}
	}
}

// A one-sample spike to every slot in two hours of a quiet server is still
// at its height, at its time, in the drawn chart.
func TestChartKeepsAOneSecondSpike(t *testing.T) {
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	b := NewBuilder(nil)
	spikeAt := 4321
	for i := 0; i < 2*3600; i++ {
		at := start.Add(time.Duration(i) * time.Second)
		used := 10
		if i == spikeAt {
			used = 97
		}
		b.Add(collectors.Snapshot{TakenAt: at, Errors: map[string]string{}, Postgres: &collectors.PGStats{
			Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, MaxConnections: 100, SuperuserReservedConnections: 3,
			Total: used, ByState: map[string]int{"idle": used}}})
	}
	slots := chartNamed(t, b.Charts(nil), ChartSlots)
	drawn := slots.Drawn(charts.DefaultSize())
	top := drawn.Stack[len(drawn.Stack)-1] // the running total: slots used
	if len(top.Points) >= 2*3600/4 {
		t.Fatalf("%d points drawn for 7,200 snapshots: not downsampled", len(top.Points))
	}
	for _, p := range top.Points {
		if p.V == 97 {
			if want := start.Add(time.Duration(spikeAt) * time.Second); !p.At.Equal(want) {
				t.Fatalf("the spike is drawn at %s, it was at %s", p.At, want)
			}
			return
		}
		if p.V != 10 {
			t.Fatalf("drawn value %v: want 10 or the spike's 97", p.V)
		}
	}
	t.Fatal("the one-second spike to 97 of 97 usable slots was lost in downsampling")
}

func shippedDrill(t *testing.T, stem string, linked bool) *Document {
	t.Helper()
	entries, err := actions.ReadAuditLog("../testdata/recordings/drill-audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	doc, bad, err := BuildDocument("../testdata/recordings/drill.jsonl.gz", entries,
		Options{Recording: "testdata/recordings/drill.jsonl.gz", AuditSource: "testdata/recordings/drill-audit.jsonl"}, stem, linked, charts.DefaultSize())
	if err != nil || len(bad) != 0 {
		t.Fatalf("shipped drill: %v, bad lines %v", err, bad)
	}
	return doc
}

// wellFormed fails unless data parses as XML to its end.
func wellFormed(t *testing.T, name string, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
	}
}

// The drill's charts are valid SVG that name what they draw: the title,
// the legend, the alerts, the refusals and the actions from the audit log.
func TestDrillChartsAreSVGWithTheirLabels(t *testing.T) {
	doc := shippedDrill(t, "report", true)
	names := map[string]bool{}
	for _, c := range doc.Charts {
		names[c.File] = true
		wellFormed(t, c.File, c.SVG)
		svg := string(c.SVG)
		for _, want := range []string{"<svg", c.Title, "time (UTC), 2026-11-27", "05:57:00",
			"root: terminate 22 idle of talentflow-web", "root: redis-kill 160 named analytics-cache-*"} {
			if !strings.Contains(svg, want) {
				t.Errorf("%s lacks %q", c.File, want)
			}
		}
	}
	for _, want := range []string{"report-slots.svg", "report-groups.svg", "report-redis.svg", "report-jobs.svg"} {
		if !names[want] {
			t.Errorf("no chart %s (have %v)", want, names)
		}
		if !strings.Contains(string(doc.Markdown), "]("+want+")") {
			t.Errorf("the Markdown does not link %s", want)
		}
	}
	if names["report-pgbouncer-waiting.svg"] {
		t.Error("a pgbouncer chart for a recording without pgbouncer")
	}
	slots := string(doc.Charts[0].SVG)
	for _, want := range []string{"idle in transaction", "waiting on a lock", "usable slots 37", "probe refused (53300)",
		"PostgresRefusingConnections", "alert firing", "alert pending", "alert at 90% of max_connections 36"} {
		if !strings.Contains(slots, want) {
			t.Errorf("the slots chart lacks %q", want)
		}
	}
	if got := strings.Count(slots, "<text"); got < 30 {
		t.Errorf("the slots chart has %d texts: axes, legend and labels are missing", got)
	}
}

// The HTML page opens without a network: every chart inline, no external
// reference of any kind.
func TestDrillHTMLIsSelfContained(t *testing.T) {
	doc := shippedDrill(t, "report", false)
	page, err := doc.HTML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if got := strings.Count(s, "<svg"); got != len(doc.Charts) {
		t.Fatalf("%d inline SVGs for %d charts", got, len(doc.Charts))
	}
	for _, bad := range []string{"<img", "<script", "<link", "@import", "url(", "src=", "<p><figure"} {
		if strings.Contains(s, bad) {
			t.Errorf("the page holds %q: it would need another file or the network", bad)
		}
	}
	// The only URLs are the SVG namespaces, which are names, not fetched.
	for _, u := range regexp.MustCompile(`https?://[^"' )<]+`).FindAllString(s, -1) {
		if u != "http://www.w3.org/2000/svg" && u != "http://www.w3.org/1999/xlink" {
			t.Errorf("external reference %s", u)
		}
	}
	for _, want := range []string{"<table>", "<h2>Charts</h2>", "<figure role=\"img\" aria-label=\"PostgreSQL connection slots used, by state\"><svg"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(string(doc.Markdown), "## Charts") {
		t.Error("the Markdown for stdout links charts that are written nowhere")
	}
}

// Goldens at the default size: the output is deterministic (bundled fonts,
// no clock), so any change to a chart is a deliberate one
// (go test ./report -run Golden -update).
func TestDrillChartGoldens(t *testing.T) {
	doc := shippedDrill(t, "report", true)
	page, err := doc.HTML()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"report.html": page}
	for _, c := range doc.Charts {
		files[c.File] = c.SVG
	}
	again := shippedDrill(t, "report", true)
	for i, c := range again.Charts {
		if !bytes.Equal(c.SVG, doc.Charts[i].SVG) {
			t.Fatalf("%s differs between two runs: the output is not deterministic", c.File)
		}
	}
	for _, name := range []string{"report-slots.svg", "report-redis.svg", "report.html"} {
		path := filepath.Join("testdata", "charts", name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(files[name], want) {
			t.Errorf("%s differs from %s; after a deliberate change run go test ./report -run Golden -update", name, path)
		}
	}
}

func TestMarkerLabels(t *testing.T) {
	for _, tc := range []struct {
		e    actions.AuditEntry
		want string
	}{
		{actions.AuditEntry{Operator: actions.Operator{User: "kim"}, Phase: actions.PhaseResult, Action: actions.ActionTerminate,
			Predicate: "state in (idle), in state over 20s, application = talentflow-web", Done: make([]int64, 23)}, "kim: terminate 23 idle of talentflow-web"},
		{actions.AuditEntry{Operator: actions.Operator{User: "kim"}, Phase: actions.PhaseResult, Action: actions.ActionTerminate,
			Predicate: "state in (idle, idle in transaction), application = web", Done: make([]int64, 2)}, "kim: terminate 2 idle, idle in transaction of web"},
		{actions.AuditEntry{Operator: actions.Operator{User: "ana"}, Phase: actions.PhaseRefused, Action: actions.ActionRedisKill,
			Predicate: "name = cache-*"}, "ana: redis-kill refused named cache-*"},
		{actions.AuditEntry{Operator: actions.Operator{User: "ana\x1b[31m"}, Phase: actions.PhaseResult, Action: actions.ActionGuardSet,
			Setting: "idle_session_timeout", New: ptr("60s")}, "ana\\x1b[31m: guard-set idle_session_timeout → 60s"},
	} {
		got := markerLabel(actionRow{e: tc.e})
		if tc.e.Operator.User == "ana\x1b[31m" {
			if strings.ContainsRune(got, '\x1b') {
				t.Errorf("a control character reached a chart label: %q", got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("label %q, want %q", got, tc.want)
		}
	}
}

func ptr(s string) *string { return &s }

// pgbouncer's charts appear when it was recorded, with its own numbers,
// and its outage is a gap.
func TestPgBouncerCharts(t *testing.T) {
	b := NewBuilder(nil)
	var snaps []collectors.Snapshot
	for i := 0; i < 60; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		s := collectors.Snapshot{TakenAt: at, Errors: map[string]string{}, PgBouncer: &collectors.PgBouncerStats{
			Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, Target: "pool:6432",
			Pools: []collectors.PgBouncerPool{{Database: "app", User: "app", ClWaiting: i % 7, MaxWaitSeconds: float64(i%5) / 4}}}}
		if i == 20 {
			s.Errors[collectors.SourcePgBouncer] = "connection refused"
		}
		snaps = append(snaps, s)
		b.Add(s)
	}
	all := b.Charts(nil)
	waiting := seriesNamed(t, chartNamed(t, all, ChartBouncer).Lines, "clients waiting")
	wait := chartNamed(t, all, ChartWait)
	maxWait := seriesNamed(t, wait.Lines, "max wait")
	for i, s := range snaps {
		if i == 20 {
			if !math.IsNaN(waiting.Points[i].V) || !math.IsNaN(maxWait.Points[i].V) {
				t.Fatalf("pgbouncer down: %v waiting, %v s, want gaps", waiting.Points[i].V, maxWait.Points[i].V)
			}
			continue
		}
		if waiting.Points[i].V != float64(s.PgBouncer.Waiting()) || maxWait.Points[i].V != s.PgBouncer.MaxWaitSeconds() {
			t.Fatalf("snapshot %d: %v waiting, %v s; the snapshot says %d, %v", i, waiting.Points[i].V, maxWait.Points[i].V,
				s.PgBouncer.Waiting(), s.PgBouncer.MaxWaitSeconds())
		}
	}
	if !wait.Fractional {
		t.Error("seconds waited ticked as whole numbers")
	}
	for _, c := range all {
		if c.Name == ChartSlots || c.Name == ChartRedis || c.Name == ChartJobs {
			t.Errorf("a %s chart for a recording of pgbouncer alone", c.Name)
		}
	}
}
