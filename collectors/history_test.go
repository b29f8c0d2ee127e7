package collectors

import (
	"testing"
	"time"
)

func TestHistorySinceAndPointSummary(t *testing.T) {
	h := NewHistory(10)
	t0 := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		h.Add(Snapshot{
			TakenAt:  t0.Add(time.Duration(i) * time.Minute),
			Postgres: &PGStats{MaxConnections: 100, SuperuserReservedConnections: 3, Total: 90 + i},
			Redis:    &RedisStats{ConnectedClients: int64(45 + i), Groups: []RedisGroup{{Host: "10.0.0.7", Name: "analytics-#", Count: 40 + i}}},
			Errors:   map[string]string{},
		})
	}
	since := h.Since(t0.Add(2 * time.Minute))
	if len(since) != 2 || since[0].PGTotal != 92 || since[1].PGTotal != 93 {
		t.Fatalf("Since = %+v, want the points with totals 92 and 93", since)
	}
	p := since[1]
	if !p.PGOK || p.PGUsable != 97 || p.RedisGroups["10.0.0.7|analytics-#|"] != 43 {
		t.Fatalf("point summary wrong: %+v", p)
	}
}

func TestRedisGroupGrowthSumsKeysPerMinute(t *testing.T) {
	t0 := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	trend := []Point{
		{At: t0, RedisOK: true, RedisGroups: map[string]int{"a": 10, "b": 5}},
		{At: t0.Add(30 * time.Second), RedisOK: false},
		{At: t0.Add(2 * time.Minute), RedisOK: true, RedisGroups: map[string]int{"a": 30, "b": 3}},
	}
	if v, ok := RedisGroupGrowth(trend, "a"); !ok || v != 10 {
		t.Fatalf("growth of a = %v, %v; want 10 per minute", v, ok)
	}
	if v, ok := RedisGroupGrowth(trend, "a", "b"); !ok || v != 9 {
		t.Fatalf("summed growth = %v, %v; want 9 per minute", v, ok)
	}
	if _, ok := RedisGroupGrowth(trend[:2], "a"); ok {
		t.Fatal("less than half a minute of Redis history must not give a growth")
	}
}

// TestHistoryKeepsAnHourOfEverySource: every source's sample is a
// snapshot, so an hour of three sources at 1 s and a probe at 10 s is
// 3.1 points a second; CapacityFor holds all of them.
func TestHistoryKeepsAnHourOfEverySource(t *testing.T) {
	iv := map[string]float64{"postgres": 1, "redis": 1, "pgbouncer": 1, "probe": 10}
	h := NewHistory(CapacityFor(time.Hour, iv))
	t0 := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	for i := 0; i < 2*3600*31/10; i++ { // two hours at 3.1 points a second
		h.Push(Point{At: t0.Add(time.Duration(i) * time.Second * 10 / 31)})
	}
	newest, _ := h.Last()
	if span := newest.At.Sub(h.At(0).At); span < time.Hour || span > time.Hour+time.Minute {
		t.Fatalf("history spans %s, want an hour", span)
	}
	if got := CapacityFor(time.Hour, nil); got != 3601 {
		t.Fatalf("without intervals: %d points, want an hour at 1 s (3601)", got)
	}
	if got := CapacityFor(time.Hour, map[string]float64{"postgres": 5}); got != 722 {
		t.Fatalf("PostgreSQL at 5 s: %d points, want 722", got)
	}
}

// TestHistoryShareRedisGroupsBetweenSamples: snapshots made by other
// sources between two Redis samples carry the same Redis struct; their
// points share one groups map.
func TestHistoryShareRedisGroupsBetweenSamples(t *testing.T) {
	h := NewHistory(10)
	r := &RedisStats{ConnectedClients: 5, Groups: []RedisGroup{{Host: "h", Name: "n", Count: 5}}}
	a := h.Add(Snapshot{TakenAt: time.Unix(1, 0), Redis: r})
	b := h.Add(Snapshot{TakenAt: time.Unix(2, 0), Redis: r})
	c := h.Add(Snapshot{TakenAt: time.Unix(3, 0), Redis: &RedisStats{Groups: []RedisGroup{{Host: "h", Name: "n", Count: 6}}}})
	if a.RedisGroups["h|n|"] != 5 || c.RedisGroups["h|n|"] != 6 {
		t.Fatalf("group counts wrong: %v %v", a.RedisGroups, c.RedisGroups)
	}
	b.RedisGroups["probe"] = 1 // the same map as a's, or a copy?
	if a.RedisGroups["probe"] != 1 {
		t.Fatalf("points of one Redis sample hold copies of its groups")
	}
}

// TestHistoryForGrowsToItsSpan: five PostgreSQL servers share one
// "postgres" interval entry but each sample is a snapshot; the history
// grows to hold the hour anyway, and stops growing at its limit.
func TestHistoryForGrowsToItsSpan(t *testing.T) {
	h := NewHistoryFor(time.Hour, map[string]float64{"postgres": 1})
	t0 := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	for i := 0; i < 5*3600+100; i++ { // five snapshots a second
		h.Push(Point{At: t0.Add(time.Duration(i) * time.Second / 5)})
	}
	newest, _ := h.Last()
	if span := newest.At.Sub(h.At(0).At); span < time.Hour {
		t.Fatalf("five servers: history spans %s, want an hour", span)
	}
	for i := 1; i < h.Len(); i++ {
		if !h.At(i).At.After(h.At(i - 1).At) {
			t.Fatalf("points out of order after growing at %d", i)
		}
	}
	for i := 0; i < 50*3600; i++ { // fifty a second: past the limit, the oldest go
		h.Push(Point{At: newest.At.Add(time.Duration(i+1) * time.Second / 50)})
	}
	if h.Cap() != historyGrowth*CapacityFor(time.Hour, map[string]float64{"postgres": 1}) || h.Len() != h.Cap() {
		t.Fatalf("history grew to %d points (holding %d), limit %d", h.Cap(), h.Len(), historyGrowth*3602)
	}
}
