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
	"slices"
	"sort"
	"strings"
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
	rules    []analysis.Rule
	series   seriesLog // what the charts draw (series.go)

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
	pgPeak     groupsAt[collectors.SessionGroup] // at the peak of used slots
	// pgMaxConnections is max_connections at the connection peak.
	pgMaxConnections int
	redisPeak        groupsAt[collectors.RedisGroup]
	refused          refusedLog // the server's refused connections (refused.go)

	findings map[string]*seenFinding
	order    []string

	// firstFiring is the first alert to fire; clearAt is when the last
	// firing alert resolved (zero while one fires).
	firstFiring   analysis.Transition
	everFiring    bool
	clearAt       time.Time
	lastResolved  time.Time // the latest firing → resolved
	firingAtEnd   int
	watches       []*interruptedWatch
	gaps          map[string]*sourceGaps
	redisCounters counters
	prevRedis     *collectors.RedisStats

	// servers is every server the recording lists (Snapshot.Servers), in
	// the order first seen; empty for a single target, whose report keeps
	// its shape.
	servers     []*serverStats
	serverIndex map[string]*serverStats
}

// serverStats is one server's peak and end for the per-server summary.
type serverStats struct {
	name, kind string
	primary    bool
	// peak is the highest share of usable slots (used/usable; for a Redis
	// Cluster of its fullest node, named in node).
	peak     analysis.FleetRow
	peakAt   time.Time
	node     string
	answered bool
	end      analysis.FleetRow
	down     int // snapshots in which it had not answered or failed
	lastErr  string
	fired    []string // rules that fired on it, in order
}

// counters sums Redis counter increases across restarts: a counter that
// falls was reset (the server restarted), so its new value is the increase.
type counters struct {
	rejected, received int64
	resets             int
}

func (c *counters) add(prev, cur *collectors.RedisStats) {
	if prev == nil {
		return
	}
	reset := cur.TotalConnectionsReceived < prev.TotalConnectionsReceived || cur.RejectedConnections < prev.RejectedConnections
	if reset {
		c.resets++
		c.rejected += cur.RejectedConnections
		c.received += cur.TotalConnectionsReceived
		return
	}
	c.rejected += cur.RejectedConnections - prev.RejectedConnections
	c.received += cur.TotalConnectionsReceived - prev.TotalConnectionsReceived
}

// sourceGaps counts the snapshots in which a source failed, as runs.
type sourceGaps struct {
	snapshots int
	runs      []gapRun
	open      bool
}

type gapRun struct {
	from, to time.Time
	n        int
	err      string
}

func (b *Builder) addGaps(s collectors.Snapshot) {
	for _, src := range []string{collectors.SourcePostgres, collectors.SourceProbe, collectors.SourceRedis, collectors.SourceJobs} {
		err := s.Errors[src]
		if src == collectors.SourceProbe && err == "" && s.Probe != nil && !s.Probe.OK && s.Probe.SQLState != sqlstateRefused {
			err = "the connect probe failed: " + s.Probe.Error // the server down, not a refusal
		}
		g := b.gaps[src]
		if err == "" {
			if g != nil {
				g.open = false
			}
			continue
		}
		if g == nil {
			g = &sourceGaps{}
			b.gaps[src] = g
		}
		g.snapshots++
		if !g.open {
			g.runs = append(g.runs, gapRun{from: s.TakenAt, err: err})
			g.open = true
		}
		r := &g.runs[len(g.runs)-1]
		r.to, r.err = s.TakenAt, err
		r.n++
	}
}

const sqlstateRefused = "53300"

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
	attempts, refused, failedOther int
	lastAttempt                    time.Time
	firstRefused, lastRefused      time.Time
	message                        string // the latest refusal's
	endOK                          bool
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
	finding     analysis.Finding // as it stood at its peak severity
	first, last time.Time
	peakAt      time.Time
	lastSev     string
	// evidence is the finding's evidence at its worst moment (worstAt):
	// the snapshot with the most load on the finding's source while it was
	// open, not the latest one, which may be after a mitigation.
	evidence []string
	worst    load
	worstAt  time.Time
}

// load is how full a snapshot was for one finding: primary is the count
// the finding is about (slots used, or Redis clients for a Redis finding),
// secondary breaks ties.
type load struct{ primary, secondary int64 }

func (l load) above(o load) bool {
	return l.primary > o.primary || l.primary == o.primary && l.secondary > o.secondary
}

// loadFor is the load of s that finding f is about: the named server's
// used count in a fleet, Redis clients for a Redis finding, else
// PostgreSQL slots used with Redis clients breaking ties.
func loadFor(f analysis.Finding, s collectors.Snapshot, fleet []analysis.FleetRow) load {
	if f.Server != "" {
		for _, row := range fleet {
			if row.Name == f.Server && !row.Down {
				return load{primary: int64(row.Used)}
			}
		}
		return load{}
	}
	var pg, rd int64
	if s.Postgres != nil {
		pg = int64(s.Postgres.Used())
	}
	if s.Redis != nil {
		rd = s.Redis.ConnectedClients
	}
	if strings.HasPrefix(f.ID, analysis.FindingRedisClientLeak) {
		return load{primary: rd, secondary: pg}
	}
	return load{primary: pg, secondary: rd}
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
		pipeline: analysis.NewPipeline(rules).WithoutTrend(),
		rules:    rules,
		peaks:    map[string]*peak{},
		jobs:     map[string]collectors.JobCapacity{},
		findings: map[string]*seenFinding{},
		gaps:     map[string]*sourceGaps{},

		serverIndex: map[string]*serverStats{},
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
	b.addAlerts(frame)
	b.addPostgres(s)
	b.addProbe(s.Probe)
	b.addRedis(s)
	b.addJobs(s)
	b.addGaps(s)
	b.observeWatches(s)
	b.observeRefused(s)
	b.addServers(s, frame)
	b.series.add(s)
	b.series.addRefusal(s.Probe)
	for _, f := range frame.Findings {
		if !f.Cleared.IsZero() {
			continue // the report keeps each finding as it stood while open
		}
		b.addFinding(f, s.TakenAt, loadFor(f, s, frame.Fleet))
	}
}

// addFinding keeps each finding at its peak severity: the screen showed it
// so, whatever it was downgraded to later.
func (b *Builder) addFinding(f analysis.Finding, at time.Time, l load) {
	key := f.ID
	if f.Server != "" {
		key = f.Server + "\x00" + f.ID // the same cause on two servers is two findings
	}
	seen, ok := b.findings[key]
	if !ok {
		b.findings[key] = &seenFinding{finding: f, first: at, last: at, peakAt: at, lastSev: f.Severity,
			evidence: f.Evidence, worst: l, worstAt: at}
		b.order = append(b.order, key)
		return
	}
	seen.last, seen.lastSev = at, f.Severity
	if l.above(seen.worst) {
		seen.evidence, seen.worst, seen.worstAt = f.Evidence, l, at
	}
	switch r := analysis.SeverityRank(f.Severity); {
	case r > analysis.SeverityRank(seen.finding.Severity):
		seen.finding, seen.peakAt = f, at
	case r == analysis.SeverityRank(seen.finding.Severity):
		seen.finding = f // the latest evidence at the peak severity
	}
}

func (b *Builder) addAlerts(frame analysis.Frame) {
	for _, t := range frame.Transitions {
		if t.To == analysis.Firing && !b.everFiring {
			b.firstFiring, b.everFiring = t, true
		}
		if t.To == analysis.Resolved && t.From == analysis.Firing {
			b.lastResolved = t.At
		}
	}
	firing := 0
	for _, a := range frame.Alerts {
		if a.State == analysis.Firing {
			firing++
		}
	}
	b.firingAtEnd = firing
	switch {
	case firing > 0:
		b.clearAt = time.Time{}
	case b.everFiring && b.clearAt.IsZero():
		b.clearAt = frame.Snapshot.TakenAt
	}
}

// addServers keeps each listed server's peak share of its slots, its
// state at the end, how often it was down and the rules that fired on it,
// from the frame's fleet rows (the numbers the dashboard showed).
func (b *Builder) addServers(s collectors.Snapshot, frame analysis.Frame) {
	if len(frame.Fleet) == 0 {
		return
	}
	for i := range s.Servers { // the summary lists them in configuration order
		b.server(s.Servers[i].Name, s.Servers[i].Kind, s.Servers[i].Primary)
	}
	for _, row := range frame.Fleet {
		st := b.server(row.Name, row.Kind, row.Primary)
		st.end = row
		if row.Down {
			st.down++
			st.lastErr = row.Error
			continue
		}
		if !st.answered || row.Ratio > st.peak.Ratio || row.Usable <= 0 && row.Used > st.peak.Used {
			st.peak, st.peakAt, st.answered = row, s.TakenAt, true
			st.node = row.Node
		}
	}
	for _, t := range frame.Transitions {
		if t.To != analysis.Firing || t.Server == "" {
			continue
		}
		if st := b.serverIndex[t.Server]; st != nil && !slices.Contains(st.fired, t.Rule) {
			st.fired = append(st.fired, t.Rule)
		}
	}
}

func (b *Builder) server(name, kind string, primary bool) *serverStats {
	st := b.serverIndex[name]
	if st == nil {
		st = &serverStats{name: name, kind: kind, primary: primary}
		b.serverIndex[name] = st
		b.servers = append(b.servers, st)
	}
	return st
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
	conn := b.metric(metricConnections)
	higher := !conn.seen || pg.Used() > int(conn.value)
	conn.observe(float64(pg.Used()), float64(pg.Usable()), at)
	if higher {
		b.pgMaxConnections = pg.MaxConnections
		b.pgPeak = groupsAt[collectors.SessionGroup]{total: int64(pg.Used()), at: at, groups: pg.Groups}
	}
	b.metric(metricIdle).observe(float64(pg.ByState["idle"]), 0, at)
	b.metric(metricIdleInTx).observe(float64(pg.ByState["idle in transaction"]+pg.ByState["idle in transaction (aborted)"]), 0, at)
	b.metric(metricWaiting).observe(float64(pg.Waiting), 0, at)
}

func (b *Builder) addProbe(pr *collectors.ProbeResult) {
	if pr == nil || pr.SampledAt.IsZero() || !pr.SampledAt.After(b.probe.lastAttempt) {
		return // the same attempt repeats in every snapshot until the next one
	}
	p := &b.probe
	p.lastAttempt = pr.SampledAt
	p.attempts++
	p.endOK = pr.OK
	switch {
	case pr.OK:
	case pr.SQLState == sqlstateRefused:
		p.refused++
		if p.firstRefused.IsZero() {
			p.firstRefused = pr.SampledAt
		}
		p.lastRefused, p.message = pr.SampledAt, pr.Error
	default:
		p.failedOther++ // the server down or unreachable: a data gap, not a refusal
	}
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
	b.redisCounters.add(b.prevRedis, r)
	b.prevRedis = r
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
	return s.Source(source).Good() && !sampled.IsZero()
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
	// Charts are the chart files the report links, beside it; none: the
	// report has no charts section.
	Charts []ChartLink
}

func (b *Builder) sortedFindings() []*seenFinding {
	out := make([]*seenFinding, 0, len(b.order))
	for _, k := range b.order {
		out = append(out, b.findings[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		return analysis.SeverityRank(out[i].finding.Severity) > analysis.SeverityRank(out[j].finding.Severity)
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
	b, bad, err := replay(path, audit, opts)
	if err != nil {
		return bad, err
	}
	opts.Skipped += len(bad)
	opts.Audit = audit
	return bad, b.Write(w, opts)
}

// replay reads the recording at path into a builder watching audit.
func replay(path string, audit []actions.AuditEntry, opts Options) (*Builder, []recording.LineError, error) {
	b := NewBuilder(opts.Rules)
	b.Watch(audit)
	bad, err := recording.ScanFile(path, func(_ int, s collectors.Snapshot) error {
		b.Add(s)
		return nil
	})
	if err != nil {
		return nil, bad, err
	}
	if b.count == 0 {
		return nil, bad, fmt.Errorf("%w: %s holds no readable snapshot; check that it is a slotwatch recording (JSON lines of snapshots)", ErrEmptyRecording, path)
	}
	return b, bad, nil
}
