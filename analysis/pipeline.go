package analysis

import (
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// HistorySpan is how much time the pipeline remembers. The history is
// sized from the first snapshot's source intervals and grows when
// snapshots come faster (collectors.NewHistoryFor): every source's sample
// is a snapshot, so a fixed count would be an hour for one source at 1 s
// and twenty minutes for three.
const HistorySpan = time.Hour

// TrendWindow is how much history a Frame carries for sparklines.
const TrendWindow = 10 * time.Minute

// Pipeline evaluates alert rules and findings over a stream of snapshots.
// Time is the snapshots' TakenAt, never the wall clock, so a replay or a
// report gives the same alerts as the live run did.
//
// A Pipeline is not safe for concurrent use: one goroutine (the bridge, the
// replay or report loop) owns it.
type Pipeline struct {
	rules    []Rule
	alerts   []alertMachine
	history  *collectors.History
	probe    probeTracker
	findings findingTracker
	noTrend  bool
	// subs are the pipelines of the servers other than the primaries,
	// by serverKey, created when a snapshot first lists the server.
	subs map[string]*Pipeline
}

// WithoutTrend stops the pipeline copying recent history into each Frame,
// for consumers that never draw sparklines (the report): the copy is most
// of a step's allocation.
func (p *Pipeline) WithoutTrend() *Pipeline {
	p.noTrend = true
	return p
}

// NewPipeline returns a pipeline over the enabled rules.
func NewPipeline(rules []Rule) *Pipeline {
	p := &Pipeline{}
	for _, r := range rules {
		if r.Disabled || r.eval == nil {
			continue
		}
		p.rules = append(p.rules, r)
	}
	p.alerts = make([]alertMachine, len(p.rules))
	return p
}

// Rules returns the rules the pipeline evaluates (disabled ones left out).
func (p *Pipeline) Rules() []Rule { return append([]Rule(nil), p.rules...) }

// Step adds s to the history and evaluates alerts and findings at s.TakenAt.
// When s lists several servers (Servers), the primaries' rules run on the
// top level as for one target, each other server's rules of its kind on
// its own history and alert states (stepServers), and Frame.Fleet has a
// row per server.
func (p *Pipeline) Step(s collectors.Snapshot) Frame {
	names := primaryNames(s.Servers)
	f := p.step(s, names)
	p.stepServers(s, &f)
	return f
}

// step evaluates this pipeline's rules and findings on s, naming the
// server of each alert, finding and mitigation after names.
func (p *Pipeline) step(s collectors.Snapshot, names serverNames) Frame {
	if p.history == nil {
		p.history = collectors.NewHistoryFor(HistorySpan, s.IntervalSeconds)
	}
	p.history.Add(s)
	p.probe.observe(s.Probe)
	in := &input{snap: s, history: p.history, refusedStreak: p.probe.streak}
	f := Frame{
		Snapshot: s,
		Alerts:   make([]Alert, len(p.rules)),
	}
	if !p.noTrend {
		f.Trend = p.history.Since(s.TakenAt.Add(-TrendWindow))
	}
	for i := range p.rules {
		r := &p.rules[i]
		res := r.eval(r, in)
		if res.known && !sourceFresh(s, r.Source) {
			res.known = false
		}
		from := p.alerts[i].state
		a := p.alerts[i].step(s.TakenAt, r, res)
		a.Server = names.of(r.Source)
		if from != a.State {
			f.Transitions = append(f.Transitions, Transition{Rule: r.Name, From: from, To: a.State, At: s.TakenAt, Value: a.Value, Summary: a.Summary, Server: a.Server})
		}
		f.Alerts[i] = a
	}
	f.Findings = p.findings.track(in, findings(in))
	names.nameFindings(f.Findings)
	sortFindings(f.Findings)
	return f
}

// Once evaluates the default rules and findings on one snapshot, as
// `slotwatch snapshot --json` does: with no history, a rule that needs `for`
// can only be pending and trend rules stay inactive.
func Once(s collectors.Snapshot) ([]Alert, []Finding) { return OnceWith(DefaultRules(), s) }

// OnceWith is Once with the rules from the configuration (ApplyOverrides).
func OnceWith(rules []Rule, s collectors.Snapshot) ([]Alert, []Finding) {
	f := NewPipeline(rules).Step(s)
	for i := range f.Findings {
		f.Findings[i].Since = time.Time{} // one pass: no stream to have seen it in
	}
	return f.Alerts, f.Findings
}

// Reset forgets the history and every alert state, e.g. when a replay seeks
// backwards: alert time must only move forward.
func (p *Pipeline) Reset() {
	p.history = nil // sized again from the next snapshot
	p.alerts = make([]alertMachine, len(p.rules))
	p.probe = probeTracker{}
	p.findings = findingTracker{}
	p.subs = nil
}

// Transition is one change of an alert's state, for timelines (report).
type Transition struct {
	Rule    string     `json:"rule"`
	From    AlertState `json:"from"`
	To      AlertState `json:"to"`
	At      time.Time  `json:"at"`
	Value   float64    `json:"value"`
	Summary string     `json:"summary"`
	// Server is as Alert.Server: empty for one target.
	Server string `json:"server,omitempty"`
}

// alertMachine is one rule's state. The zero value is inactive.
type alertMachine struct {
	state   AlertState
	since   time.Time
	value   float64
	summary string
	// what made it pending or firing
	firedValue   float64
	firedSummary string
}

// step applies one evaluation. A rule whose source has no fresh data keeps
// its state, value and summary: a collector that cannot connect (often
// because the slots are exhausted) must neither resolve nor fire an alert.
func (m *alertMachine) step(now time.Time, r *Rule, res outcome) Alert {
	if m.state == "" {
		m.state, m.since = Inactive, now
	}
	if !res.known && res.blind != "" {
		return m.alert(r.Name, res.blind)
	}
	if !res.known {
		return m.alert(r.Name, stale(m.summary, r.Source))
	}
	m.value, m.summary = res.value, res.summary
	switch {
	case res.active && (m.state == Inactive || m.state == Resolved):
		m.enter(Pending, now)
		if r.For <= 0 {
			m.enter(Firing, now)
		}
	case res.active && m.state == Pending && now.Sub(m.since) >= r.For:
		m.enter(Firing, now)
	case !res.active && (m.state == Pending || m.state == Firing):
		m.enter(Resolved, now)
	}
	return m.alert(r.Name, m.summary)
}

func (m *alertMachine) enter(s AlertState, now time.Time) {
	m.state, m.since = s, now
	switch s {
	case Pending, Firing:
		m.firedValue, m.firedSummary = m.value, m.summary
	default:
		m.firedValue, m.firedSummary = 0, ""
	}
}

func (m *alertMachine) alert(name, summary string) Alert {
	return Alert{Name: name, State: m.state, Since: m.since, Value: m.value, Summary: summary,
		FiredValue: m.firedValue, FiredSummary: m.firedSummary}
}

func stale(summary, source string) string {
	if summary == "" {
		return "no data from " + source + " yet"
	}
	return summary + " (no fresh data from " + source + ": state held)"
}

// probeTracker counts consecutive distinct probe attempts refused with
// 53300: the probe runs less often than snapshots are taken, so the same
// attempt appears in several snapshots and must be counted once.
type probeTracker struct {
	last   time.Time
	streak int
}

// observe counts a refused attempt once however many snapshots repeat it.
// A result that changes without a new attempt time (a simulation that
// re-evaluates its probe) is believed when it succeeds: an alert must not
// keep firing on a refusal the latest result contradicts.
func (t *probeTracker) observe(pr *collectors.ProbeResult) {
	if pr == nil {
		return
	}
	isRefused := refused(pr)
	if pr.SampledAt.Equal(t.last) && (isRefused == (t.streak > 0)) {
		return
	}
	t.last = pr.SampledAt
	if isRefused {
		t.streak++
		return
	}
	t.streak = 0
}
