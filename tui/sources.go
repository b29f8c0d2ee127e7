package tui

import (
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// srcState is what the screen may say about a source (contract C3): it is
// the one place that decides whether numbers may be shown at all.
type srcState int

const (
	srcOff   srcState = iota // not configured (or jobs not applicable): show nothing
	srcFresh                 // answered recently
	srcStale                 // failing now or too old: last good data, marked with its age
	srcDown                  // configured but never answered: no numbers at all
)

// srcStatus is one source's state, how old its data is (STALE) or how long
// it has been unanswered (DOWN, since the first frame), and its error.
type srcStatus struct {
	state srcState
	age   time.Duration
	err   string
}

// blind is true when a rule reading the source cannot tell the truth.
func (s srcStatus) blind() bool { return s.state == srcStale || s.state == srcDown }

// sourceNames name the sources in sentences ("no PostgreSQL data for 40s").
var sourceNames = map[string]string{
	collectors.SourcePostgres: "PostgreSQL",
	collectors.SourceProbe:    "connect-probe",
	collectors.SourceRedis:    "Redis",
	collectors.SourceJobs:     "jobs",
	collectors.SourceAlerting: "external alerting",
}

// sourceOrder is the order blind sources are listed in.
var sourceOrder = []string{collectors.SourcePostgres, collectors.SourceProbe, collectors.SourceRedis,
	collectors.SourceJobs, collectors.SourceAlerting}

// ruleSources maps each built-in rule to the source it reads. It is built
// once from the rules themselves, so a new rule needs no change here.
var ruleSources = func() map[string]string {
	out := map[string]string{}
	for _, r := range analysis.DefaultRules() {
		out[r.Name] = r.Source
	}
	return out
}()

// status classifies a source at the model's clock by the snapshot's one
// rule (collectors.Snapshot.Source); a source that never answered has been
// DOWN since the first frame.
func (c *common) status(source string) srcStatus {
	src := c.frame.Snapshot.Source(source)
	at := c.frame.Snapshot.TakenAt.Add(c.frameAge())
	state, age := src.StateAt(at)
	switch state {
	case collectors.SourceDown:
		return srcStatus{state: srcDown, age: c.sinceFirstFrame(), err: src.Err}
	case collectors.SourceStale:
		return srcStatus{state: srcStale, age: age, err: src.Err}
	case collectors.SourceFresh:
		return srcStatus{state: srcFresh, age: age}
	}
	return srcStatus{state: srcOff}
}

// frameAge is how long the displayed frame has been on screen: data keeps
// ageing between frames, and a source that stops sending frames altogether
// still counts up.
func (c *common) frameAge() time.Duration { return max(c.now.Sub(c.frameAt), 0) }

// sinceFirstFrame is how long slotwatch has been watching, on the frames'
// clock: how long a source that never answered has been DOWN. The shared
// pipeline's history reaches further back than a served viewer who joined
// late (up to its trend window).
func (c *common) sinceFirstFrame() time.Duration {
	start := c.firstTakenAt
	if tr := c.frame.Trend; len(tr) > 0 && (start.IsZero() || tr[0].At.Before(start)) {
		start = tr[0].At
	}
	if start.IsZero() {
		return c.frameAge()
	}
	return max(c.frame.Snapshot.TakenAt.Sub(start)+c.frameAge(), 0)
}

// blindSources are the sources some alert rule reads that are DOWN or
// STALE, in display order, with the rules each one leaves unable to fire or
// resolve.
type blindSource struct {
	source string
	status srcStatus
	rules  []string
}

func (c *common) blindSources() []blindSource {
	var out []blindSource
	for _, src := range sourceOrder {
		st := c.status(src)
		if !st.blind() {
			continue
		}
		var rules []string
		for _, a := range c.frame.Alerts {
			if ruleSources[a.Name] == src {
				rules = append(rules, a.Name)
			}
		}
		// The team's alerting feeds no rule of ours, but a screen showing
		// none of their alerts must say when it cannot see them.
		if len(rules) > 0 || len(c.frame.Alerts) == 0 || src == collectors.SourceAlerting {
			out = append(out, blindSource{source: src, status: st, rules: rules})
		}
	}
	return out
}
