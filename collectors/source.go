package collectors

import "time"

// SourceState is what may be said about a source's numbers: the one rule
// the dashboard, /metrics, the report, the alert rules and `snapshot` share.
type SourceState int

const (
	SourceOff   SourceState = iota // not configured (or jobs not applicable): nothing to show
	SourceFresh                    // answered within three of its intervals
	SourceStale                    // failing now, or its last answer is too old: last good data, marked
	SourceDown                     // configured but never answered: no numbers at all
)

// staleAfter is how many intervals may pass without a good sample before a
// source counts as stale: one missed tick is jitter, three is an outage.
const staleAfter = 3

// Source is one source as a snapshot holds it.
type Source struct {
	Name string
	// Present is true when the snapshot carries data for the source: its
	// latest sample, or its last good one when Err is set.
	Present bool
	// Err is why the latest sample failed; "" when it succeeded.
	Err string
	// LastGood is when the source last answered; zero when it never did.
	LastGood time.Time
	// Interval is how often the source is sampled.
	Interval time.Duration
}

// SourceNames are every source a snapshot may carry, in the order people
// read them: the server, its probe, Redis, the jobs, the pooler, alerting.
func SourceNames() []string {
	return []string{SourcePostgres, SourceProbe, SourceRedis, SourceJobs, SourcePgBouncer, SourceAlerting}
}

// Source returns the named source's state in s (SourcePostgres,
// SourceProbe, SourceRedis, SourceJobs, SourcePgBouncer, SourceAlerting).
func (s *Snapshot) Source(name string) Source {
	src := Source{Name: name, Interval: s.interval(name)}
	src.Err = s.Errors[name]
	switch name {
	case SourcePostgres:
		src.Present, src.LastGood = s.Postgres != nil, lastGood(s.Postgres, func(p *PGStats) Sample { return p.Sample })
	case SourceRedis:
		src.Present, src.LastGood = s.Redis != nil, lastGood(s.Redis, func(r *RedisStats) Sample { return r.Sample })
	case SourceJobs:
		src.Present, src.LastGood = s.Jobs != nil, lastGood(s.Jobs, func(j *JobsStats) Sample { return j.Sample })
	case SourcePgBouncer:
		src.Present, src.LastGood = s.PgBouncer != nil, lastGood(s.PgBouncer, func(b *PgBouncerStats) Sample { return b.Sample })
	case SourceAlerting:
		src.Present, src.LastGood = s.Alerting != nil, lastGood(s.Alerting, func(a *AlertingStats) Sample { return a.Sample })
	case SourceProbe:
		// A refused probe (53300) is data, the probe's finding; only an
		// error of the probe itself makes it unknown.
		if s.Probe != nil {
			src.Present = true
			if src.Err == "" {
				src.LastGood = s.Probe.SampledAt
			}
		}
	}
	if src.Present && src.Err == "" && src.LastGood.IsZero() {
		// Data without an error or a last-good time (a hand-made or
		// foreign snapshot) is this snapshot's own sample.
		src.LastGood = s.TakenAt
	}
	return src
}

func lastGood[T any](stats *T, sample func(*T) Sample) time.Time {
	if stats == nil {
		return time.Time{}
	}
	return sample(stats).LastGoodAt
}

// interval is the source's sampling period as the collector recorded it,
// or its default for a snapshot that does not say (an older recording).
func (s *Snapshot) interval(name string) time.Duration {
	if sec, ok := s.IntervalSeconds[name]; ok && sec > 0 {
		return time.Duration(sec * float64(time.Second))
	}
	switch name {
	case SourceProbe:
		return DefaultProbeInterval
	case SourceJobs:
		return DefaultJobsInterval
	case SourceAlerting:
		return DefaultAlertingInterval
	}
	return DefaultInterval
}

// Configured is true when the source is watched at all.
func (src Source) Configured() bool { return src.Present || src.Err != "" }

// Good is true when the snapshot's data is the source's latest sample, not
// a failing source's last good data: what may be counted, exported or
// evaluated as current.
func (src Source) Good() bool { return src.Present && src.Err == "" }

// StateAt classifies the source at the instant at and says how old its
// data is (zero for Off and Down, whose age the caller knows better).
func (src Source) StateAt(at time.Time) (SourceState, time.Duration) {
	switch {
	case !src.Configured():
		return SourceOff, 0
	case src.LastGood.IsZero():
		return SourceDown, 0
	}
	age := max(at.Sub(src.LastGood), 0)
	if src.Err != "" || age > staleAfter*src.Interval {
		return SourceStale, age
	}
	return SourceFresh, age
}
