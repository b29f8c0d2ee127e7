package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/termtext"
	"github.com/slotwatch/slotwatch/report/charts"
)

// Chart names, the stems of their files.
const (
	ChartSlots   = "slots"
	ChartGroups  = "groups"
	ChartRedis   = "redis"
	ChartBouncer = "pgbouncer-waiting"
	ChartWait    = "pgbouncer-maxwait"
	ChartJobs    = "jobs"

	chartTopGroups = 5
	chartTopRedis  = 3
)

// Charts are the report's pictures over the whole recording, in the order
// the report shows them; a source that was never recorded has no chart.
// Every chart carries the alert bands of its own sources' rules and every
// action of the audit log in the recording's range.
func (b *Builder) Charts(audit []actions.AuditEntry) []charts.Chart {
	if b.count == 0 {
		return nil
	}
	base := charts.Chart{From: b.first, To: b.last, Markers: b.markers(audit)}
	var out []charts.Chart
	l := &b.series
	if anyValue(l.usable) {
		out = append(out, b.slotsChart(base), b.groupsChart(base))
	}
	if anyValue(l.redis) {
		out = append(out, b.redisChart(base))
	}
	if l.bouncerSeen {
		out = append(out, b.bouncerCharts(base)...)
	}
	if l.jobsSeen {
		out = append(out, b.jobsChart(base))
	}
	return out
}

func anyValue(v []float64) bool {
	for _, x := range v {
		if x == x { // not NaN
			return true
		}
	}
	return false
}

func (b *Builder) points(values []float64) []charts.Point {
	out := make([]charts.Point, len(values))
	for i, v := range values {
		out[i] = charts.Point{At: b.series.at[i], V: v}
	}
	return out
}

func (b *Builder) slotsChart(c charts.Chart) charts.Chart {
	l := &b.series
	c.Name, c.Title, c.YLabel = ChartSlots, "PostgreSQL connection slots used, by state", "slots used"
	c.Stack = []charts.Series{
		{Label: "waiting on a lock", Points: b.points(l.waiting)},
		{Label: "active", Points: b.points(l.active)},
		{Label: "idle in transaction", Points: b.points(l.idleTx)},
		{Label: "idle", Points: b.points(l.idle)},
		{Label: "other (slotwatch's own, hidden)", Points: b.points(l.other)},
	}
	c.Limits = []charts.Series{{Label: "usable slots", Points: b.points(l.usable)}}
	if r, ok := b.rule(analysis.RulePGConnectionLimit); ok {
		th := make([]float64, len(l.maxConn))
		for i, m := range l.maxConn {
			th[i] = m * r.Threshold // NaN stays NaN: no threshold drawn across an outage
		}
		c.Limits = append(c.Limits, charts.Series{Label: fmt.Sprintf("alert at %s of max_connections", analysis.PercentOf(r.Threshold, 1)), Points: b.points(th)})
	}
	c.Outages = b.outages(l.usable)
	c.Events, c.EventLabel = l.refusals, "probe refused (53300)"
	c.EventLevel = lastUsable(l.usable)
	c.Bands = b.bands(collectors.SourcePostgres, collectors.SourceProbe)
	return c
}

func lastUsable(usable []float64) float64 {
	for i := len(usable) - 1; i >= 0; i-- {
		if usable[i] == usable[i] {
			return usable[i]
		}
	}
	return 0
}

func (b *Builder) groupsChart(c charts.Chart) charts.Chart {
	g := &b.series.pgGroups
	c.Name, c.Title, c.YLabel = ChartGroups, "PostgreSQL sessions of the top connection groups (application · user)", "sessions"
	for _, id := range g.top(chartTopGroups) {
		c.Lines = append(c.Lines, charts.Series{Label: g.labels[id], Points: b.points(g.series(id))})
	}
	c.Limits = []charts.Series{{Label: "usable slots", Points: b.points(b.series.usable)}}
	c.Outages = b.outages(b.series.usable)
	c.Bands = b.bands(collectors.SourcePostgres, collectors.SourceProbe)
	return c
}

func (b *Builder) redisChart(c charts.Chart) charts.Chart {
	l := &b.series
	c.Name, c.Title, c.YLabel = ChartRedis, "Redis connected clients, total and top groups", "clients"
	c.Lines = []charts.Series{{Label: "all clients", Points: b.points(l.redis)}}
	g := &l.redisGroups
	for _, id := range g.top(chartTopRedis) {
		c.Lines = append(c.Lines, charts.Series{Label: g.labels[id], Points: b.points(g.series(id))})
	}
	c.Limits = []charts.Series{{Label: "maxclients", Points: b.points(l.maxClients)}}
	if r, ok := b.rule(analysis.RuleRedisNearLimit); ok {
		th := make([]float64, len(l.maxClients))
		for i, m := range l.maxClients {
			th[i] = m * r.Threshold
		}
		c.Limits = append(c.Limits, charts.Series{Label: fmt.Sprintf("alert at %s of maxclients", analysis.PercentOf(r.Threshold, 1)), Points: b.points(th)})
	}
	c.Outages = b.outages(l.redis)
	c.Bands = b.bands(collectors.SourceRedis)
	return c
}

func (b *Builder) bouncerCharts(c charts.Chart) []charts.Chart {
	l := &b.series
	bands := b.bands(collectors.SourcePgBouncer)
	c.Outages = b.outages(l.bouncerWaiting)
	waiting := c
	waiting.Name, waiting.Title, waiting.YLabel = ChartBouncer, "pgbouncer clients waiting for a server connection", "clients waiting"
	waiting.Lines = []charts.Series{{Label: "clients waiting", Points: b.points(l.bouncerWaiting)}}
	waiting.Bands = bands
	wait := c
	wait.Name, wait.Title, wait.YLabel = ChartWait, "pgbouncer: longest wait of a waiting client", "seconds"
	wait.Fractional = true
	wait.Lines = []charts.Series{{Label: "max wait", Points: b.points(l.bouncerMx)}}
	if r, ok := b.rule(analysis.RulePgbouncerWaiting); ok {
		th := make([]float64, len(l.bouncerMx))
		for i, v := range l.bouncerMx {
			th[i] = r.Threshold
			if math.IsNaN(v) {
				th[i] = v // no threshold drawn where pgbouncer did not answer
			}
		}
		wait.Limits = []charts.Series{{Label: "alert at", Unit: " s", Points: b.points(th)}}
	}
	wait.Bands = bands
	return []charts.Chart{waiting, wait}
}

func (b *Builder) jobsChart(c charts.Chart) charts.Chart {
	l := &b.series
	c.Name, c.Title, c.YLabel = ChartJobs, "Jobs over capacity (rows past their limit)", "count"
	c.Lines = []charts.Series{
		{Label: "rows over capacity", Points: b.points(l.overRows)},
		{Label: "excess over the limits, summed", Points: b.points(l.overSum)},
	}
	c.Outages = b.outages(l.overRows)
	c.Bands = b.bands(collectors.SourceJobs)
	return c
}

// outages are the runs of snapshots in which values has no sample.
func (b *Builder) outages(values []float64) []charts.Span {
	var out []charts.Span
	for i := 0; i < len(values); i++ {
		if !math.IsNaN(values[i]) {
			continue
		}
		j := i
		for j+1 < len(values) && math.IsNaN(values[j+1]) {
			j++
		}
		out = append(out, charts.Span{From: b.series.at[i], To: b.series.at[j]})
		i = j
	}
	return out
}

func (b *Builder) rule(name string) (analysis.Rule, bool) {
	for _, r := range b.rules {
		if r.Name == name && !r.Disabled {
			return r, true
		}
	}
	return analysis.Rule{}, false
}

// bands are the pending and firing stretches of the rules reading the
// given sources, from the replayed transitions; one still open at the end
// runs to the end of the recording.
func (b *Builder) bands(sources ...string) []charts.Band {
	wanted := map[string]bool{}
	for _, r := range b.rules {
		for _, s := range sources {
			if r.Source == s {
				wanted[r.Name] = true
			}
		}
	}
	type key struct{ rule, server string }
	open := map[key]charts.Band{}
	var out []charts.Band
	closeBand := func(k key, at time.Time) {
		if band, ok := open[k]; ok {
			band.To = at
			out = append(out, band)
			delete(open, k)
		}
	}
	var order []key
	for _, t := range b.transitions {
		if !wanted[t.Rule] {
			continue
		}
		k := key{t.Rule, t.Server}
		closeBand(k, t.At)
		if t.To == analysis.Pending || t.To == analysis.Firing {
			name := t.Rule
			if t.Server != "" {
				name += " on " + t.Server
			}
			if _, seen := open[k]; !seen {
				order = append(order, k)
			}
			open[k] = charts.Band{From: t.At, Rule: name, Firing: t.To == analysis.Firing}
		}
	}
	for _, k := range order {
		closeBand(k, b.last)
	}
	return out
}

// markers are the audit log's actions within the recording's range, each
// labelled with who did what to how many: "kim: terminate 23 idle of
// talentflow-web".
func (b *Builder) markers(audit []actions.AuditEntry) []charts.Marker {
	view := b.audit(Options{Audit: audit})
	var out []charts.Marker
	for _, a := range view.actions {
		out = append(out, charts.Marker{At: a.e.Time, Label: markerLabel(a)})
	}
	return out
}

func markerLabel(a actionRow) string {
	e := a.e
	what := e.Action
	switch {
	case e.Phase == actions.PhaseRefused:
		what += " refused"
	case a.interrupted:
		what += " interrupted"
	case e.Setting != "":
		what += " " + e.Setting + " → " + deref(e.New)
	default:
		what += fmt.Sprintf(" %d", len(e.Done))
	}
	if short := shortPredicate(e.Predicate); short != "" && e.Setting == "" {
		what += " " + short
	}
	return termtext.OneLine(operator(e.Operator) + ": " + what)
}

// shortPredicate condenses an action's predicate to what a chart label has
// room for: the states and the application ("idle of talentflow-web"), or
// the Redis client name; anything else as written, cut short.
func shortPredicate(p string) string {
	states := between(p, "state in (", ")")
	app := between(p, "application = ", ", ")
	switch {
	case states != "" && app != "":
		return states + " of " + app
	case states != "" || app != "":
		return states + app
	}
	if name := between(p, "name = ", ", "); name != "" {
		return "named " + name
	}
	if r := []rune(p); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return p
}

// between is the text after start up to end (or the end of s).
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		s = s[:j]
	}
	return s
}
