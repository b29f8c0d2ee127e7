package collectors

import (
	"context"
	"math"
	"net"
	"strings"
	"testing"
	"time"
)

func series(name string, v float64, labels ...string) promSeries {
	m := map[string]string{"__name__": name}
	for i := 0; i+1 < len(labels); i += 2 {
		m[labels[i]] = labels[i+1]
	}
	return promSeries{Metric: m, Value: promPoint{V: v}}
}

func TestPromFleetGoneDownAndUnknown(t *testing.T) {
	t0 := time.Date(2026, 1, 21, 9, 0, 0, 0, time.UTC)
	mem := newFleetMemory()
	refresh := func(at time.Time, raw ...promSeries) map[string]FleetInstance {
		rows := mem.merge(buildFleet(&fleetAnswers{raw: raw, start: at, step: time.Second, points: 2}, at, time.Minute), at)
		out := map[string]FleetInstance{}
		for _, r := range rows {
			out[r.Labels["instance"]] = r
		}
		return out
	}
	a := series("pg_up", 1, "job", "postgres", "instance", "a:9187", "cluster", "x")
	b := series("pg_up", 1, "job", "postgres", "instance", "b:9187", "cluster", "y")
	maxB := series("pg_settings_max_connections", 100, "job", "postgres", "instance", "b:9187", "server", "b:5432")
	rows := refresh(t0, a, b, maxB)
	if rows["b:9187"].State != FleetUp || rows["b:9187"].Max != known(100) {
		t.Fatalf("b: %+v", rows["b:9187"])
	}
	if rows["a:9187"].Max.Known || rows["a:9187"].Used.Known {
		t.Errorf("a has no settings series but shows numbers: %+v", rows["a:9187"])
	}

	// b's series vanish: gone, with no numbers, and when it was last seen.
	rows = refresh(t0.Add(time.Minute), a)
	g := rows["b:9187"]
	if g.State != FleetGone || g.Max.Known || !g.GoneSince.Equal(t0) || g.Labels["cluster"] != "y" {
		t.Errorf("vanished b: %+v", g)
	}
	// Prometheus cannot scrape b's exporter any more: down, not gone.
	rows = refresh(t0.Add(2*time.Minute), a, series("up", 0, "job", "postgres", "instance", "b:9187"),
		series("up", 0, "job", "postgres", "instance", "c:9187"), series("up", 0, "job", "node", "instance", "n:9100"))
	if d := rows["b:9187"]; d.State != FleetDown || !strings.Contains(d.Why, "up=0") || d.Kind != FleetPostgres {
		t.Errorf("unscraped b: %+v", d)
	}
	// c was never up but its job is a fleet job: listed DOWN of no kind;
	// a node exporter's job is not the fleet's.
	if c := rows["c:9187"]; c.State != FleetDown || c.Kind != FleetUnknown {
		t.Errorf("never-seen c: %+v", c)
	}
	if _, ok := rows["n:9100"]; ok {
		t.Error("a down target of a job with no fleet series is listed")
	}
	// Long gone: dropped, so memory stays bounded.
	rows = refresh(t0.Add(40*time.Minute), a)
	if _, ok := rows["b:9187"]; ok {
		t.Errorf("b is still listed 40 minutes after it vanished: %+v", rows["b:9187"])
	}
}

func TestPromFleetStaleSampleAndSpark(t *testing.T) {
	now := time.Date(2026, 1, 21, 9, 0, 0, 0, time.UTC)
	ts := func(at time.Time, labels ...string) promSeries {
		s := series("", float64(at.UnixNano())/1e9, labels...)
		s.Metric["m"] = "redis_ts"
		return s
	}
	start := now.Add(-2 * time.Second)
	ans := &fleetAnswers{
		raw: []promSeries{series("redis_up", 1, "job", "redis", "instance", "old:9121"),
			series("redis_up", 1, "job", "redis", "instance", "new:9121")},
		agg: []promSeries{ts(now.Add(-5*time.Minute), "job", "redis", "instance", "old:9121"),
			ts(now.Add(-time.Second), "job", "redis", "instance", "new:9121")},
		spark: []promSeries{{Metric: map[string]string{"m": "redis", "job": "redis", "instance": "new:9121"},
			Values: []promPoint{{T: float64(start.Unix()), V: 3}, {T: float64(now.Unix()), V: 5}}}},
		start: start, step: time.Second, points: 3,
	}
	rows := buildFleet(ans, now, time.Minute).rows
	sortFleet(rows)
	if rows[0].Labels["instance"] != "old:9121" || rows[0].State != FleetStale || !strings.Contains(rows[0].Why, "5m0s") {
		t.Errorf("the old sample is not stale and first: %+v", rows[0])
	}
	sp := rows[1].Spark
	if len(sp) != 3 || sp[0] != 3 || !math.IsNaN(sp[1]) || sp[2] != 5 {
		t.Errorf("spark %v: want [3 NaN 5], a missing step a gap", sp)
	}
}

// A Prometheus that never answered is DOWN; one that fails after
// answering is STALE with its last fleet, its error without the URL's
// password.
func TestPromFleetFailingPrometheusIsNeverOK(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := newPromFleetCollector(PromFleetConfig{URL: "http://ops:s3cret@" + addr, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	snap := &Snapshot{Errors: map[string]string{}, IntervalSeconds: map[string]float64{SourcePromFleet: 1}}
	c.collect(context.Background())(snap)
	src := snap.Source(SourcePromFleet)
	if st, _ := src.StateAt(time.Now()); st != SourceDown {
		t.Errorf("never answered: state %v, want down", st)
	}
	if msg := snap.Errors[SourcePromFleet]; strings.Contains(msg, "s3cret") || !strings.Contains(msg, addr) {
		t.Errorf("error %q: want the host, never the password", msg)
	}
	good := time.Now().Add(-time.Minute)
	c.last = &PromFleetStats{Sample: Sample{SampledAt: good, LastGoodAt: good}}
	c.collect(context.Background())(snap)
	if st, age := snap.Source(SourcePromFleet).StateAt(time.Now()); st != SourceStale || age < time.Minute {
		t.Errorf("failing after an answer: state %v age %v, want stale with its age", st, age)
	}
	if snap.PromFleet != c.last {
		t.Error("the last fleet is not kept while Prometheus fails")
	}
}

func TestPromFleetConfigErrors(t *testing.T) {
	for _, cfg := range []PromFleetConfig{{}, {URL: "prometheus:9090"}, {URL: "http://p:9090", GroupBy: []string{"re-gion"}}} {
		err := ValidatePromFleet(cfg)
		if err == nil {
			t.Errorf("%+v: accepted", cfg)
			continue
		}
		if msg := err.Error(); strings.Count(msg, ";") != 1 {
			t.Errorf("%+v: %q is not one sentence saying what to do", cfg, msg)
		}
	}
}

func FuzzPromPoint(f *testing.F) {
	for _, s := range []string{`[1.5,"3"]`, `[1, "NaN"]`, `[ 2 , "+Inf" ]`, `[1,3]`, `[]`, `["x","1"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p promPoint
		_ = p.UnmarshalJSON([]byte(s)) // must not panic
	})
}

func TestLiveTargetNeverTakesCredentialsFromLabels(t *testing.T) {
	tpl := LiveTemplates{Postgres: "postgres://slotwatch@{{.host}}:5432/postgres", Redis: "redis://{{.host}}:6379/0"}
	in := func(kind, host string) *FleetInstance {
		return &FleetInstance{Kind: kind, Labels: map[string]string{"instance": "e:9187", "host": host, "cluster": "eu-1"}}
	}
	for _, c := range []struct {
		tpl        LiveTemplates
		in         *FleetInstance
		want, fail string
	}{
		{tpl, in(FleetPostgres, "db-1.internal"), "postgres://slotwatch@db-1.internal:5432/postgres", ""},
		{tpl, in(FleetRedis, "[::1]"), "redis://[::1]:6379/0", ""},
		{tpl, in(FleetPostgres, "evil:pw@db-1"), "", "not a plain host name"},
		{tpl, in(FleetPostgres, "db-1/x?password=pw"), "", "not a plain host name"},
		{tpl, in(FleetPostgres, "db-1 sslmode=disable"), "", "not a plain host name"},
		{LiveTemplates{Postgres: "postgres://{{.nohost}}/x"}, in(FleetPostgres, "db"), "", "missing"},
		{LiveTemplates{PGService: "{{.cluster}}-primary"}, in(FleetPostgres, "db"), "service=eu-1-primary", ""},
		{tpl, in(FleetPgBouncer, "db"), "", ""},
	} {
		got, err := c.tpl.LiveTarget(c.in)
		switch {
		case c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)):
			t.Errorf("%v: %q, %v; want an error saying %q", c.in.Labels["host"], got, err, c.fail)
		case c.fail == "" && (err != nil || got != c.want):
			t.Errorf("%v: %q, %v; want %q", c.in.Labels["host"], got, err, c.want)
		}
	}
	// A password the operator put in the template is never in a snapshot.
	rows := []FleetInstance{*in(FleetPostgres, "db-1")}
	lt := LiveTemplates{Postgres: "postgres://ops:s3cret@{{.host}}/postgres"}
	pg, redis, err := lt.parsed()
	if err != nil {
		t.Fatal(err)
	}
	lt.liveTargets(pg, redis, rows)
	if strings.Contains(rows[0].Live, "s3cret") || !strings.Contains(rows[0].Live, "db-1") {
		t.Errorf("live target %q", rows[0].Live)
	}
	if err := ValidatePromFleet(PromFleetConfig{URL: "http://p:9090", Live: LiveTemplates{Redis: "redis://{{.host"}}); err == nil {
		t.Error("a broken template is accepted")
	}
}

// FuzzLiveTarget: whatever a label holds, it reaches the target only
// when it is a plain host name, so it can add no credentials or
// parameters.
func FuzzLiveTarget(f *testing.F) {
	for _, s := range []string{"db-1", "a@b", "x?password=y", "h p", "[::1]", "%40"} {
		f.Add(s)
	}
	tpl := LiveTemplates{Postgres: "postgres://slotwatch@{{.host}}:5432/postgres"}
	f.Fuzz(func(t *testing.T, host string) {
		got, err := tpl.LiveTarget(&FleetInstance{Kind: FleetPostgres, Labels: map[string]string{"host": host}})
		if err == nil && (strings.ContainsAny(host, "@/?= %") || got != "postgres://slotwatch@"+host+":5432/postgres") {
			t.Fatalf("host label %q gave %q", host, got)
		}
	})
}
