package tui

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

func fv(v float64) collectors.FleetValue { return collectors.FleetValue{V: v, Known: true} }

// fleetFixture is n instances over three clusters and two regions: the
// first one DOWN, the second stale, the third gone, the rest up with
// rising use; every fifth a Redis, every seventh a pgbouncer.
func fleetFixture(n int, at time.Time) *collectors.PromFleetStats {
	st := &collectors.PromFleetStats{
		Sample:     collectors.Sample{SampledAt: at, LastGoodAt: at},
		Prometheus: "prometheus.internal:9090", GroupBy: []string{"cluster", "region", "instance"},
		EvaluatedAt: at, WindowSeconds: 900, StepSeconds: 15, StaleAfterSeconds: 60, Queries: 4,
	}
	for i := range n {
		kind := collectors.FleetPostgres
		switch {
		case i%7 == 6:
			kind = collectors.FleetPgBouncer
		case i%5 == 4:
			kind = collectors.FleetRedis
		}
		in := collectors.FleetInstance{Kind: kind, State: collectors.FleetUp, SampleAt: at.Add(-3 * time.Second),
			Labels: map[string]string{"job": kind, "instance": fmt.Sprintf("db-%03d.internal:9187", i),
				"cluster": fmt.Sprintf("c%d", i%3), "region": []string{"eu", "us"}[i%2]}}
		in.Key = kind + "|" + in.Labels["instance"]
		limit := 100.0
		if kind == collectors.FleetRedis {
			limit = 1000
		}
		used := math.Mod(float64(i*37), limit)
		switch kind {
		case collectors.FleetPgBouncer:
			in.Waiting, in.MaxWaitSeconds = fv(float64(i%4)), fv(float64(i%3))
		case collectors.FleetPostgres:
			in.Used, in.Max, in.Reserved = fv(used), fv(limit), fv(3)
		default:
			in.Used, in.Max = fv(used), fv(limit)
		}
		for s := range 61 {
			v := used * float64(s) / 60
			if s == 30 {
				v = math.NaN() // a scrape Prometheus missed: a gap
			}
			in.Spark = append(in.Spark, v)
		}
		switch i {
		case 0:
			in.State, in.Why, in.Used, in.Max, in.Reserved = collectors.FleetDown, "pg_up=0: the exporter cannot reach its server", collectors.FleetValue{}, collectors.FleetValue{}, collectors.FleetValue{}
			in.Alerts, in.AlertCount = []string{"PostgresDown"}, 1
		case 1:
			in.State, in.Why, in.SampleAt = collectors.FleetStale, "no new sample in Prometheus for 2m0s", at.Add(-2*time.Minute)
		case 2:
			in = collectors.FleetInstance{Key: in.Key, Kind: in.Kind, Labels: in.Labels, State: collectors.FleetGone,
				GoneSince: at.Add(-4 * time.Minute), Why: "its series vanished from Prometheus 4m0s ago"}
		}
		st.Instances = append(st.Instances, in)
	}
	return st
}

func fleetFrameAt(n int, at time.Time) analysis.Frame {
	return analysis.Frame{Snapshot: collectors.Snapshot{TakenAt: at, Errors: map[string]string{},
		PromFleet: fleetFixture(n, at), IntervalSeconds: map[string]float64{collectors.SourcePromFleet: 15}}}
}

func pressAll(m Model, keys ...string) Model {
	for _, k := range keys {
		switch k {
		case "end":
			m = update(m, tea.KeyMsg{Type: tea.KeyEnd})
		case "home":
			m = update(m, tea.KeyMsg{Type: tea.KeyHome})
		default:
			m = update(m, keyMsg(k))
		}
	}
	return m
}

// Fleet-only consoles open on the fleet view; the goldens pin it at two
// sizes, grouped by cluster and filtered.
func TestGoldenPromFleet(t *testing.T) {
	cases := map[string]struct {
		w, h int
		keys []string
	}{
		"80x24":           {80, 24, nil},
		"120x40":          {120, 40, nil},
		"grouped-cluster": {120, 30, []string{"b"}},
		"filtered-eu-red": {120, 20, []string{"/", "r", "e", "d", "i", "s", "enter"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, Options{}, fleetFrameAt(40, fixedNow), c.w, c.h)
			m = pressAll(m, c.keys...)
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}

func TestPromFleetViewHonest(t *testing.T) {
	m := newTestModel(t, Options{}, fleetFrameAt(12, fixedNow), 120, 30)
	view := m.View()
	if m.mode != modePromFleet {
		t.Fatal("a fleet-only console does not open on the fleet view")
	}
	lines := strings.Split(view, "\n")
	// DOWN, then stale, then gone lead the list, whatever the sort.
	for _, k := range []string{"", "s", "s", "s"} {
		m = pressAll(m, k)
		var order []string
		for _, l := range strings.Split(m.View(), "\n") {
			f := strings.Fields(l)
			if len(f) > 2 && strings.HasPrefix(f[2], "db-") {
				order = append(order, f[0])
			}
		}
		if len(order) < 3 || order[0] != "DOWN" || order[1] != "STALE" || order[2] != "GONE" {
			t.Errorf("sort %s: states %v do not lead with DOWN, STALE, GONE", fleetSortNames[m.promFleet.sort], order)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "db-002") && (strings.Contains(l, "0/") || !strings.Contains(l, "—/—")) {
			t.Errorf("a gone instance shows numbers: %q", l)
		}
	}
	if !strings.Contains(view, "numbers from Prometheus, answered 0s ago") {
		t.Errorf("the view does not say where its numbers come from and how old they are:\n%s", view)
	}

	// Prometheus failing: STALE and BLIND with the last numbers' age,
	// never OK.
	f := fleetFrameAt(12, fixedNow)
	f.Snapshot.PromFleet.LastGoodAt = fixedNow.Add(-2 * time.Minute)
	f.Snapshot.Errors[collectors.SourcePromFleet] = "cannot query Prometheus at prometheus.internal:9090: connection refused"
	m = update(m, frameMsg{frame: f})
	if v := m.View(); !strings.Contains(v, "STALE · BLIND") || strings.Contains(v, " OK ·") || !strings.Contains(v, "2m00s ago") {
		t.Errorf("failing Prometheus:\n%s", v)
	}
	// Never answered: DOWN, no rows at all.
	down := analysis.Frame{Snapshot: collectors.Snapshot{TakenAt: fixedNow, IntervalSeconds: map[string]float64{collectors.SourcePromFleet: 15},
		Errors: map[string]string{collectors.SourcePromFleet: "cannot query Prometheus at p:9090: connection refused"}}}
	m2 := newTestModel(t, Options{}, down, 120, 30)
	if v := m2.View(); !strings.Contains(v, "DOWN · BLIND") || strings.Contains(v, "db-") {
		t.Errorf("never-answering Prometheus:\n%s", v)
	}
}

// Hundreds of rows: the cursor walks the whole list and stays on screen,
// and selections follow the instance across refreshes.
func TestPromFleetViewScales(t *testing.T) {
	m := newTestModel(t, Options{}, fleetFrameAt(500, fixedNow), 100, 30)
	m = pressAll(m, "end")
	if v := m.View(); !strings.Contains(v, "showing 500 of 500") {
		t.Fatalf("not all 500 instances listed:\n%s", v)
	}
	last := m.promFleet.selected()
	if last == nil || !strings.Contains(m.View(), fleetName(last)) {
		t.Fatalf("the last instance is selected but not on screen")
	}
	m = pressAll(m, "home", "down", "down", "down")
	sel := m.promFleet.selected().Key
	m = update(m, frameMsg{frame: fleetFrameAt(500, fixedNow.Add(15*time.Second))})
	if got := m.promFleet.selected().Key; got != sel {
		t.Errorf("the selection moved across a refresh: %s → %s", sel, got)
	}
	m = pressAll(m, "b", "b", "home")
	if v := m.View(); !strings.Contains(v, "group by region") || !strings.Contains(v, " region=") {
		t.Errorf("second group key does not group by region:\n%s", v)
	}
	m = pressAll(m, "esc")
	if m.mode != modeNormal {
		t.Errorf("esc does not leave the fleet view")
	}
}

func BenchmarkPromFleetView(b *testing.B) {
	v := newPromFleetView(newStyles(asciiRenderer()))
	v.SetSize(160, 50)
	frames := []analysis.Frame{fleetFrameAt(500, fixedNow), fleetFrameAt(500, fixedNow.Add(15*time.Second))}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v.setFrame(frames[i%2])
		_ = v.View()
	}
}

// Over serve every SSH session runs its own model on the same frames: one
// viewer filtering the fleet changes nothing for another, and a read-only
// viewer sees the same fleet.
func TestPromFleetServedSessionsAreIndependent(t *testing.T) {
	f := fleetFrameAt(60, fixedNow)
	kim := newTestModel(t, servedOpts(&Viewer{Name: "kim", Operator: true}), f, 120, 30)
	marcus := newTestModel(t, servedOpts(&Viewer{Name: "marcus"}), f, 100, 24)
	kim = pressAll(kim, "/", "r", "e", "d", "i", "s", "enter")
	checkScreen(t, kim.View(), 120, 30)
	checkScreen(t, marcus.View(), 100, 24)
	if !strings.Contains(kim.View(), "showing 11 of 60") || !strings.Contains(marcus.View(), "showing 60 of 60") {
		t.Errorf("sessions share the filter:\n%s\n%s", kim.View(), marcus.View())
	}
	f2 := fleetFrameAt(60, fixedNow.Add(15*time.Second))
	kim, marcus = update(kim, frameMsg{frame: f2}), update(marcus, frameMsg{frame: f2})
	if !strings.Contains(kim.View(), "showing 11 of 60") {
		t.Errorf("a refresh dropped the session's filter:\n%s", kim.View())
	}
}

// With servers watched too, the dashboard stays the home screen: F opens
// the fleet view, the help names it, and a failing Prometheus is one of
// the dashboard's blind sources.
func TestPromFleetBesideTheDashboard(t *testing.T) {
	f := incidentFrame(t)
	f.Snapshot.PromFleet = fleetFixture(20, f.Snapshot.TakenAt)
	f.Snapshot.PromFleet.LastGoodAt = f.Snapshot.TakenAt.Add(-3 * time.Minute)
	f.Snapshot.Errors = map[string]string{collectors.SourcePromFleet: "cannot query Prometheus at prometheus.internal:9090: connection refused"}
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, f, 160, 40)
	if m.mode != modeNormal {
		t.Fatal("a console with servers opens on the fleet view")
	}
	v := m.View()
	if !strings.Contains(v, "F fleet (Prometheus)") || !strings.Contains(v, "fleet (Prometheus)") {
		t.Errorf("the dashboard does not offer the fleet view:\n%s", v)
	}
	if !strings.Contains(v, "BLIND") {
		t.Errorf("a failing fleet source is not a blind source on the dashboard:\n%s", v)
	}
	m = pressAll(m, "F")
	if m.mode != modePromFleet || !strings.Contains(m.View(), "STALE · BLIND") {
		t.Errorf("F does not open the fleet view saying it is stale:\n%s", m.View())
	}
	m = pressAll(m, "F")
	if m.mode != modeNormal {
		t.Error("F does not close the fleet view")
	}
}

// The selected instance's line says how to watch it live, or why not.
func TestPromFleetSelectedLineSaysHowToWatchItLive(t *testing.T) {
	f := fleetFrameAt(12, fixedNow)
	f.Snapshot.PromFleet.Instances[0].Live = "postgres://slotwatch@db-000.internal:5432/postgres"
	f.Snapshot.PromFleet.Instances[1].LiveError = "fleet.live.postgres cannot be filled from db-001.internal:9187's labels: a label it names is missing"
	m := newTestModel(t, Options{}, f, 140, 30)
	if v := m.View(); !strings.Contains(v, "▸ db-000.internal:9187 cluster=c0 region=eu · live: slotwatch watch --pg 'postgres://slotwatch@db-000.internal:5432/postgres'") {
		t.Errorf("selected line:\n%s", v)
	}
	m = pressAll(m, "down")
	if v := m.View(); !strings.Contains(v, "live: fleet.live.postgres cannot be filled") {
		t.Errorf("selected line with a template error:\n%s", v)
	}
}
