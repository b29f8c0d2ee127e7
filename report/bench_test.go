package report

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// BenchmarkReportHour replays one hour at 1 s (3,600 snapshots of the
// 40-slot fixture incident, cycled) through the pipeline and writes the
// report: the cost of `slotwatch report` on an hour-long recording, decoding
// aside.
func BenchmarkReportHour(b *testing.B) {
	timeline := fixtureTimeline()
	snaps := make([]collectors.Snapshot, 3600)
	for i := range snaps {
		s := timeline[i%len(timeline)]
		s.TakenAt = t0.Add(time.Duration(i) * time.Second)
		snaps[i] = s
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl := NewBuilder(nil)
		for _, s := range snaps {
			bl.Add(s)
		}
		if err := bl.Write(io.Discard, Options{Recording: "hour.jsonl"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReportTwoHours1000 is `slotwatch report` with charts over two
// hours at 1 s (7,200 snapshots) of a server with 1,000 backends in 20
// application groups and Redis with 500 clients, with one 1-second spike
// and one outage: the replay, the Markdown, every chart's SVG and the HTML
// page. The recording is generated in memory; decoding it is
// BenchmarkReadFile's (./recording).
//
//	go test -run '^$' -bench ReportTwoHours1000 -benchmem -benchtime 3x ./report
func BenchmarkReportTwoHours1000(b *testing.B) {
	snaps := twoHours1000()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl := NewBuilder(nil)
		for _, s := range snaps {
			bl.Add(s)
		}
		doc, err := bl.Document(Options{Recording: "two-hours.jsonl"}, "report", true, ChartSize())
		if err != nil {
			b.Fatal(err)
		}
		page, err := doc.HTML()
		if err != nil || len(doc.Charts) < 3 {
			b.Fatalf("%d charts, %v", len(doc.Charts), err)
		}
		b.ReportMetric(float64(len(page)), "html-bytes")
	}
	b.ReportMetric(float64(len(snaps)), "snapshots")
}

func twoHours1000() []collectors.Snapshot {
	const backends, apps = 1000, 20
	sessions := make([]collectors.Session, backends)
	states := []string{"idle", "idle", "idle", "active", "idle in transaction"}
	for i := range sessions {
		sessions[i] = collectors.Session{PID: int32(10000 + i), Datname: "app", Usename: "app",
			ApplicationName: fmt.Sprintf("svc-%02d", i%apps), ClientAddr: fmt.Sprintf("10.0.%d.%d", i%apps, i%200),
			State: states[i%len(states)], StateSeconds: float64(i % 300), BackendStart: t0.Add(-time.Hour),
			Query: "SELECT 1"}
	}
	groups := make([]collectors.SessionGroup, apps)
	byState := map[string]int{}
	for i, s := range sessions {
		g := &groups[i%apps]
		g.ApplicationName, g.Usename, g.Datname = s.ApplicationName, s.Usename, s.Datname
		g.Total++
		byState[s.State]++
	}
	rgroups := make([]collectors.RedisGroup, 10)
	for i := range rgroups {
		rgroups[i] = collectors.RedisGroup{Host: "10.0.9.1", Name: fmt.Sprintf("worker-%d-#", i), Count: 50}
	}
	out := make([]collectors.Snapshot, 2*3600)
	for i := range out {
		at := t0.Add(time.Duration(i) * time.Second)
		sample := collectors.Sample{SampledAt: at, LastGoodAt: at}
		s := collectors.Snapshot{TakenAt: at, Errors: map[string]string{},
			Postgres: &collectors.PGStats{Sample: sample, Target: "db:5432/app", MaxConnections: 1100, SuperuserReservedConnections: 3,
				Total: backends, ByState: byState, Sessions: sessions, Groups: groups},
			Redis: &collectors.RedisStats{Sample: sample, Target: "cache:6379/0", ConnectedClients: 500, MaxClients: 10000, Groups: rgroups},
			Probe: &collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 2}}
		switch {
		case i == 4321: // one second at every usable slot
			pg := *s.Postgres
			pg.Total = pg.Usable()
			s.Postgres = &pg
		case i >= 5000 && i < 5030: // half a minute without PostgreSQL
			s.Errors[collectors.SourcePostgres] = "connection refused"
		}
		out[i] = s
	}
	return out
}

// BenchmarkChartsTwoHours1000 is the drawing alone, from the replayed two
// hours: the Markdown, the charts' SVG and the HTML page.
//
//	go test -run '^$' -bench ChartsTwoHours1000 -benchmem ./report
func BenchmarkChartsTwoHours1000(b *testing.B) {
	bl := NewBuilder(nil)
	for _, s := range twoHours1000() {
		bl.Add(s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, err := bl.Document(Options{Recording: "two-hours.jsonl"}, "report", true, ChartSize())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := doc.HTML(); err != nil {
			b.Fatal(err)
		}
	}
}
