package collectors

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// hourOfSnapshots calls add with an hour of merged snapshots as a live
// collection of 1,000 PostgreSQL backends, a Redis of 1,000 clients in 100
// groups and a pgbouncer makes them, each sampled every second: three
// snapshots a second, each source's struct shared by the snapshots until
// its next sample, new groups and state counts every sample.
func hourOfSnapshots(add func(Snapshot)) int {
	t0 := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	sessions := make([]Session, 1000)
	for i := range sessions {
		sessions[i] = Session{PID: int32(10000 + i), State: []string{"active", "idle", "idle in transaction"}[i%3]}
	}
	groups := make([]RedisGroup, 100)
	for i := range groups {
		groups[i] = RedisGroup{Host: fmt.Sprintf("10.0.%d.%d", i/250, i%250), Name: "worker", LibName: "redis-py", Count: 10}
	}
	s := Snapshot{Errors: map[string]string{}, IntervalSeconds: map[string]float64{"postgres": 1, "redis": 1, "pgbouncer": 1}}
	n := 0
	for sec := 0; sec < 3600; sec++ {
		at := t0.Add(time.Duration(sec) * time.Second)
		s.TakenAt = at
		s.Postgres = &PGStats{MaxConnections: 1100, Total: 1000, Sessions: sessions,
			ByState: map[string]int{"active": 334, "idle": 333, "idle in transaction": 333}}
		add(s)
		s.TakenAt = at.Add(300 * time.Millisecond)
		groups = append([]RedisGroup(nil), groups...)
		groups[0].Count = 10 + sec/60 // the leak: one group grows, so no sample equals the last
		s.Redis = &RedisStats{ConnectedClients: 1000, MaxClients: 10000, Groups: groups}
		add(s)
		s.TakenAt = at.Add(600 * time.Millisecond)
		s.PgBouncer = &PgBouncerStats{Pools: []PgBouncerPool{{ClWaiting: sec % 7}}}
		add(s)
		n += 3
	}
	return n
}

// heapHeld is the live heap after a collection.
func heapHeld() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkHistoryHour1000Backends is the pipeline's history over an hour
// of live collection at 1,000 backends: every point kept, and the memory
// the history holds at the end (MB-held), sessions not among it.
func BenchmarkHistoryHour1000Backends(b *testing.B) {
	b.ReportAllocs()
	var held uint64
	var points int
	for b.Loop() {
		before := heapHeld()
		h := NewHistoryFor(time.Hour, map[string]float64{"postgres": 1, "redis": 1, "pgbouncer": 1})
		hourOfSnapshots(func(s Snapshot) { h.Add(s) })
		held = heapHeld() - before
		points = h.Len()
		runtime.KeepAlive(h)
	}
	b.ReportMetric(float64(held)/1e6, "MB-held")
	b.ReportMetric(float64(points), "points")
}
