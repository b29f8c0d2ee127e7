package collectors

import (
	"testing"
	"time"
)

func TestSourceStates(t *testing.T) {
	at := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	good := Sample{SampledAt: at, LastGoodAt: at}
	cases := []struct {
		name  string
		snap  Snapshot
		src   string
		after time.Duration
		want  SourceState
		good  bool
	}{
		{"not configured", Snapshot{TakenAt: at}, SourcePostgres, 0, SourceOff, false},
		{"never answered", Snapshot{TakenAt: at, Errors: map[string]string{SourceRedis: "refused"}}, SourceRedis, 0, SourceDown, false},
		{"answered now", Snapshot{TakenAt: at, Postgres: &PGStats{Sample: good}}, SourcePostgres, time.Second, SourceFresh, true},
		{"failing now keeps its last data", Snapshot{TakenAt: at, Postgres: &PGStats{Sample: good},
			Errors: map[string]string{SourcePostgres: "timeout"}}, SourcePostgres, time.Second, SourceStale, false},
		{"too old for its default interval", Snapshot{TakenAt: at, Postgres: &PGStats{Sample: good}}, SourcePostgres, 4 * time.Second, SourceStale, true},
		{"a refused probe is data", Snapshot{TakenAt: at, Probe: &ProbeResult{SampledAt: at, SQLState: "53300"}}, SourceProbe, time.Second, SourceFresh, true},
		{"a probe that errs is not", Snapshot{TakenAt: at, Probe: &ProbeResult{SampledAt: at},
			Errors: map[string]string{SourceProbe: "dns"}}, SourceProbe, 0, SourceDown, false},
		{"alerting polled every 60s is fresh 50s later", Snapshot{TakenAt: at, Alerting: &AlertingStats{Sample: good},
			IntervalSeconds: map[string]float64{SourceAlerting: 60}}, SourceAlerting, 50 * time.Second, SourceFresh, true},
		{"alerting at its 15s default is stale 50s later", Snapshot{TakenAt: at, Alerting: &AlertingStats{Sample: good}},
			SourceAlerting, 50 * time.Second, SourceStale, true},
		{"a recorded interval is the source's own", Snapshot{TakenAt: at, Jobs: &JobsStats{Sample: good},
			IntervalSeconds: map[string]float64{SourceJobs: 2}}, SourceJobs, 7 * time.Second, SourceStale, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.snap.Source(c.src)
			got, _ := src.StateAt(at.Add(c.after))
			if got != c.want || src.Good() != c.good {
				t.Fatalf("state %v good %v, want %v good %v (%+v)", got, src.Good(), c.want, c.good, src)
			}
		})
	}
}

// TestSnapshotsCarryEachSourcesInterval: the collector records every
// configured source's own interval, so a viewer far from the config (a
// served session, a replay) judges staleness by it.
func TestSnapshotsCarryEachSourcesInterval(t *testing.T) {
	p, err := buildSources(Config{
		Redis:    &RedisConfig{URL: "redis://127.0.0.1:1"},
		Alerting: &AlertingConfig{Alertmanager: "http://127.0.0.1:1", Interval: time.Minute},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.set.close()
	got := p.intervals()
	if got[SourceAlerting] != 60 || got[SourceRedis] != DefaultInterval.Seconds() {
		t.Fatalf("intervals %v: want alerting 60 s and redis %v", got, DefaultInterval.Seconds())
	}
	snap := newMerger(nil, got).apply(func(*Snapshot) {})
	if snap.Source(SourceAlerting).Interval != time.Minute {
		t.Fatalf("the snapshot says alerting is sampled every %v", snap.Source(SourceAlerting).Interval)
	}
}
