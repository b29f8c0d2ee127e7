package tui

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// liveHour hands follow an hour of frames as a live collection of 1,000
// backends, a Redis and a pgbouncer, each sampled every second, makes
// them: three frames a second, each with the pipeline's newest point as
// its trend's last.
func liveHour(v *timelineView) {
	t0 := fixedNow.Add(-time.Hour)
	pg := &collectors.PGStats{MaxConnections: 1100, Total: 1000, Sessions: make([]collectors.Session, 1000)}
	s := collectors.Snapshot{Errors: map[string]string{}, IntervalSeconds: map[string]float64{"postgres": 1, "redis": 1, "pgbouncer": 1}}
	alerts := []analysis.Alert{{Name: "PostgresConnectionLimitReached", State: analysis.Pending, Since: t0}}
	for i := 0; i < 3*3600; i++ {
		s.TakenAt = t0.Add(time.Duration(i) * time.Second / 3)
		switch i % 3 {
		case 0:
			pg = &collectors.PGStats{MaxConnections: 1100, Total: 1000, Sessions: pg.Sessions,
				ByState: map[string]int{"active": 334, "idle": 333 + i%50, "idle in transaction": 333}}
			s.Postgres = pg
		case 1:
			s.Redis = &collectors.RedisStats{ConnectedClients: int64(1000 + i%100), MaxClients: 10000}
		default:
			s.PgBouncer = &collectors.PgBouncerStats{Pools: []collectors.PgBouncerPool{{ClWaiting: i % 7}}}
		}
		f := analysis.Frame{Snapshot: s, Alerts: alerts, Trend: []collectors.Point{collectors.PointOf(s)}}
		v.follow(f, s.TakenAt)
	}
}

// BenchmarkTimelineHistoryHour is the memory the live timeline holds after
// an hour at 1,000 backends (MB-held; its points share their state counts
// with the pipeline's history, counted here as its own).
func BenchmarkTimelineHistoryHour(b *testing.B) {
	b.ReportAllocs()
	var held uint64
	var points int
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v := newTimeline(newStyles(asciiRenderer()), nil)
		liveHour(v)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held, points = after.HeapAlloc-before.HeapAlloc, v.hist.Len()
		runtime.KeepAlive(v)
	}
	b.ReportMetric(float64(held)/1e6, "MB-held")
	b.ReportMetric(float64(points), "points")
}

// cpuNow is the process' CPU time: a figure that holds on a loaded
// machine, where wall time per op does not.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTimelineView is one frame of the open timeline over a full
// hour (10,800 points) at the minimum and a large size.
func BenchmarkTimelineView(b *testing.B) {
	for _, size := range [][2]int{{80, 24}, {160, 45}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			v := newTimeline(newStyles(asciiRenderer()), nil)
			liveHour(v)
			v.SetSize(size[0], size[1]-2)
			b.ReportAllocs()
			start := cpuNow()
			for b.Loop() {
				_ = v.draw() // what a new frame costs; View reuses it until the next
			}
			b.ReportMetric(float64(cpuNow()-start)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}
