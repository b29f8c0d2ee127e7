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
