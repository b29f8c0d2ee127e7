// Package report turns a recording (and the audit log of the mitigations)
// into a Markdown postmortem draft: time range, alert timeline, peak
// metrics, the Redis client count over time, the top groups, the findings
// and every action taken. The recording is replayed through the same
// analysis pipeline as the live dashboard, so the timeline shows the alerts
// the on-call engineer saw.
package report

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/recording"
)

// Builder accumulates what the report needs, one snapshot at a time, so a
// long recording is never held in memory whole. It is not safe for
// concurrent use.
type Builder struct {
	pipeline *analysis.Pipeline

	count       int
	first, last time.Time
	pgTarget    string
	redisTarget string

	transitions []analysis.Transition
	endAlerts   []analysis.Alert

	peaks      map[string]*peak
	probe      probeStats
	redisStart *collectors.RedisStats // first Redis sample, for counter increases
	redisEnd   *collectors.RedisStats
	redis      []redisPoint
	jobs       map[string]collectors.JobCapacity // worst excess per job
	pgPeak     groupsAt[collectors.SessionGroup]
	redisPeak  groupsAt[collectors.RedisGroup]

	findings map[string]*seenFinding
	order    []string
}

// peak is the highest value of one metric and when it was reached.
type peak struct {
	value float64
	at    time.Time
	of    float64 // the limit at that moment (max_connections, maxclients), 0 if none
	end   float64
	seen  bool
}

func (p *peak) observe(v, of float64, at time.Time) {
	if !p.seen || v > p.value {
		p.value, p.at, p.of = v, at, of
	}
	p.end, p.seen = v, true
}

type probeStats struct {
	attempts, failed    int
	lastAttempt         time.Time
	firstFail, lastFail time.Time
	sqlstate, message   string
	endOK               bool
}

type redisPoint struct {
	at       time.Time
	clients  int64
	rejected int64
	groups   map[string]int // clients per RedisGroup.Key()
}

// groupsAt is the group list at the moment a total peaked.
type groupsAt[T any] struct {
	total  int64
	at     time.Time
	groups []T
}

type seenFinding struct {
	finding     analysis.Finding
	first, last time.Time
}

// Names of the peak metrics, in table order.
const (
	metricConnections = "PostgreSQL connections used"
	metricIdle        = "Idle sessions"
	metricIdleInTx    = "Idle in transaction"
	metricWaiting     = "Waiting on a lock"
	metricRedis       = "Redis connected clients"
	metricOverCap     = "Jobs over capacity"
)

// NewBuilder replays snapshots through a pipeline over rules (nil: the
// default rules).
func NewBuilder(rules []analysis.Rule) *Builder {
	if rules == nil {
		rules = analysis.DefaultRules()
	}
	return &Builder{
		pipeline: analysis.NewPipeline(rules),
		peaks:    map[string]*peak{},
		jobs:     map[string]collectors.JobCapacity{},
		findings: map[string]*seenFinding{},
	}
}

// Add replays one snapshot.
func (b *Builder) Add(s collectors.Snapshot) {
	frame := b.pipeline.Step(s)
	if b.count == 0 {
		b.first = s.TakenAt
	}
	b.count++
	b.last = s.TakenAt
	b.transitions = append(b.transitions, frame.Transitions...)
	b.endAlerts = frame.Alerts
	b.addPostgres(s)
	b.addProbe(s.Probe)
	b.addRedis(s)
	b.addJobs(s)
	for _, f := range frame.Findings {
		if !f.Cleared.IsZero() {
			continue // the report keeps each finding as it stood while open
		}
		key := f.ID
		if seen, ok := b.findings[key]; ok {
			seen.finding, seen.last = f, s.TakenAt
			continue
		}
		b.findings[key] = &seenFinding{finding: f, first: s.TakenAt, last: s.TakenAt}
		b.order = append(b.order, key)
	}
}

func (b *Builder) metric(name string) *peak {
	p, ok := b.peaks[name]
	if !ok {
		p = &peak{}
		b.peaks[name] = p
	}
	return p
}

func (b *Builder) addPostgres(s collectors.Snapshot) {
	pg := s.Postgres
	if pg == nil || !fresh(s, collectors.SourcePostgres, pg.SampledAt) {
		return
	}
	b.pgTarget = pg.Target
	at := s.TakenAt
	b.metric(metricConnections).observe(float64(pg.Used()), float64(pg.MaxConnections), at)
	b.metric(metricIdle).observe(float64(pg.ByState["idle"]), 0, at)
	b.metric(metricIdleInTx).observe(float64(pg.ByState["idle in transaction"]+pg.ByState["idle in transaction (aborted)"]), 0, at)
	b.metric(metricWaiting).observe(float64(pg.Waiting), 0, at)
	if int64(pg.Total) > b.pgPeak.total || b.pgPeak.at.IsZero() {
		b.pgPeak = groupsAt[collectors.SessionGroup]{total: int64(pg.Total), at: at, groups: pg.Groups}
	}
}

func (b *Builder) addProbe(pr *collectors.ProbeResult) {
	if pr == nil || pr.SampledAt.IsZero() || !pr.SampledAt.After(b.probe.lastAttempt) {
		return // the same attempt repeats in every snapshot until the next one
	}
	p := &b.probe
	p.lastAttempt = pr.SampledAt
	p.attempts++
	p.endOK = pr.OK
	if pr.OK {
		return
	}
	p.failed++
	if p.firstFail.IsZero() {
		p.firstFail = pr.SampledAt
	}
	p.lastFail = pr.SampledAt
	p.sqlstate, p.message = pr.SQLState, pr.Error
}

func (b *Builder) addRedis(s collectors.Snapshot) {
	r := s.Redis
	if r == nil || !fresh(s, collectors.SourceRedis, r.SampledAt) {
		return
	}
	b.redisTarget = r.Target
	if b.redisStart == nil {
		b.redisStart = r
	}
	b.redisEnd = r
	b.metric(metricRedis).observe(float64(r.ConnectedClients), float64(r.MaxClients), s.TakenAt)
	groups := make(map[string]int, len(r.Groups))
	for i := range r.Groups {
		groups[r.Groups[i].Key()] = r.Groups[i].Count
	}
	b.redis = append(b.redis, redisPoint{at: s.TakenAt, clients: r.ConnectedClients, rejected: r.RejectedConnections, groups: groups})
	if r.ConnectedClients > b.redisPeak.total || b.redisPeak.at.IsZero() {
		b.redisPeak = groupsAt[collectors.RedisGroup]{total: r.ConnectedClients, at: s.TakenAt, groups: r.Groups}
	}
}

func (b *Builder) addJobs(s collectors.Snapshot) {
	j := s.Jobs
	if j == nil || !fresh(s, collectors.SourceJobs, j.SampledAt) {
		return
	}
	b.metric(metricOverCap).observe(float64(len(j.OverCapacity)), 0, s.TakenAt)
	for _, c := range j.OverCapacity {
		if old, ok := b.jobs[c.ID]; !ok || c.Excess > old.Excess {
			b.jobs[c.ID] = c
		}
	}
}

// fresh reports whether a source's data in s is its own latest good sample:
// a failing source keeps its last good data, which must not count twice.
func fresh(s collectors.Snapshot, source string, sampled time.Time) bool {
	_, failed := s.Errors[source]
	return !failed && !sampled.IsZero()
}

// Count is the number of snapshots replayed.
func (b *Builder) Count() int { return b.count }

// Options are what the report shows besides the recording.
type Options struct {
	Recording   string // file name shown in the header
	Skipped     int    // unreadable lines of the recording
	Audit       []actions.AuditEntry
	AuditSource string // file name shown in the actions section
	// Rules are the alert rules to replay with (nil: the defaults), so the
	// timeline matches what the dashboard showed with the same config.
	Rules []analysis.Rule
}

func (b *Builder) sortedFindings() []*seenFinding {
	out := make([]*seenFinding, 0, len(b.order))
	for _, k := range b.order {
		out = append(out, b.findings[k])
	}
	sev := map[string]int{"critical": 0, "warning": 1, "info": 2}
	sort.SliceStable(out, func(i, j int) bool {
		return sev[out[i].finding.Severity] < sev[out[j].finding.Severity]
	})
	return out
}

// ErrEmptyRecording means a recording held no readable snapshot, so there is
// nothing to report.
var ErrEmptyRecording = errors.New("empty recording")

// FromFile replays the recording at path and writes the report to w.
// Unreadable lines are skipped, counted in the header and returned; a file
// that cannot be read at all, or holds no readable snapshot
// (ErrEmptyRecording), is an error and nothing is written.
func FromFile(w io.Writer, path string, audit []actions.AuditEntry, opts Options) ([]recording.LineError, error) {
	b := NewBuilder(opts.Rules)
	bad, err := recording.ScanFile(path, func(_ int, s collectors.Snapshot) error {
		b.Add(s)
		return nil
	})
	if err != nil {
		return bad, err
	}
	if b.count == 0 {
		return bad, fmt.Errorf("%w: %s holds no readable snapshot; check that it is a recording made by `slotwatch record` or `watch --record`", ErrEmptyRecording, path)
	}
	opts.Skipped += len(bad)
	opts.Audit = audit
	return bad, b.Write(w, opts)
}
