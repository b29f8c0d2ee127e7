package analysis

import (
	"fmt"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// largeIncident is the incident scaled to 5,000 sessions and 2,000 Redis
// clients: what a big server looks like when it runs out of slots.
func largeIncident(at time.Time) collectors.Snapshot {
	s := incident(at)
	pg := s.Postgres
	for i := len(pg.Sessions); i < 5000; i++ {
		pg.Sessions = append(pg.Sessions, session(int32(10000+i), "idle", at, 2*time.Hour, 15*time.Minute))
		pg.Sessions[i].ApplicationName = fmt.Sprintf("worker-%d", i%40)
	}
	pg.MaxConnections, pg.Total = 5100, len(pg.Sessions)
	s.Redis = redisLeak(at, 2000)
	return s
}

func BenchmarkPipelineStep5000Sessions(b *testing.B) {
	snaps := make([]collectors.Snapshot, 60)
	for i := range snaps {
		snaps[i] = largeIncident(t0.Add(time.Duration(i) * time.Second))
	}
	p := NewPipeline(DefaultRules())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s := snaps[i%len(snaps)]
		s.TakenAt = t0.Add(time.Duration(i) * time.Second)
		if f := p.Step(s); len(f.Findings) == 0 {
			b.Fatal("no findings on the incident")
		}
	}
}
