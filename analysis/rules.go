package analysis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Names of the built-in rules, as used in the config file's `alerts:` map.
const (
	RulePGConnectionLimit = "PostgresConnectionLimitReached"
	RulePGRefusing        = "PostgresRefusingConnections"
	RulePGLockWaits       = "PostgresLockWaits"
	RuleRedisNearLimit    = "RedisClientsNearLimit"
	RuleRedisGrowing      = "RedisClientsGrowing"
	RuleJobsOverCapacity  = "JobsOverCapacity"
)

// Rule is one alert rule: an expression over the latest snapshot (and, for
// trends, the history) compared with Threshold, which must hold for For
// before the alert fires.
type Rule struct {
	Name        string
	Description string
	Severity    string // critical, warning
	// Threshold is compared with the rule's value; ThresholdUnit says how
	// it reads (e.g. "fraction of max_connections").
	Threshold     float64
	ThresholdUnit string
	For           time.Duration
	// Window is the look-back of trend rules (RedisClientsGrowing); other
	// rules ignore it.
	Window   time.Duration
	Disabled bool
	// Source is the snapshot source the rule reads (collectors.SourceX).
	Source string

	eval func(r *Rule, in *input) outcome
}

// outcome is one evaluation of a rule's expression.
type outcome struct {
	// known is false when the source has no fresh data: the alert then
	// stays where it is.
	known   bool
	active  bool
	value   float64
	summary string
	// blind, when set on an unknown outcome, says why the rule cannot
	// decide on the data it has (rows hidden by privilege).
	blind string
}

// input is what a rule may look at.
type input struct {
	snap    collectors.Snapshot
	history *collectors.History
	// refusedStreak counts consecutive distinct probe attempts refused with
	// SQLSTATE 53300.
	refusedStreak int
	// windows memoises redisWindow per start time: the growth rule and the
	// leak finding read the same ten minutes.
	windows map[time.Time]window
}

// redisWindow is the memoised window of good Redis points since a time.
func (in *input) redisWindow(since time.Time) window {
	if w, ok := in.windows[since]; ok {
		return w
	}
	w := redisWindow(in.history, since)
	if in.windows == nil {
		in.windows = map[time.Time]window{}
	}
	in.windows[since] = w
	return w
}

// DefaultRules returns the built-in rules with their default thresholds.
func DefaultRules() []Rule {
	return []Rule{
		{
			Name:          RulePGConnectionLimit,
			Description:   "client connections at or above the threshold fraction of max_connections (the team's Grafana rule)",
			Severity:      "critical",
			Threshold:     0.9,
			ThresholdUnit: "fraction of max_connections",
			For:           2 * time.Minute,
			Source:        collectors.SourcePostgres,
			eval:          evalConnectionLimit,
		},
		{
			Name:          RulePGRefusing,
			Description:   "the connect probe is refused with SQLSTATE 53300 (no slot left for ordinary roles)",
			Severity:      "critical",
			Threshold:     1,
			ThresholdUnit: "consecutive refused probes",
			Source:        collectors.SourceProbe,
			eval:          evalRefusing,
		},
		{
			Name:          RulePGLockWaits,
			Description:   "sessions waiting on heavyweight locks",
			Severity:      "warning",
			Threshold:     5,
			ThresholdUnit: "waiting sessions",
			For:           30 * time.Second,
			Source:        collectors.SourcePostgres,
			eval:          evalLockWaits,
		},
		{
			Name:          RuleRedisNearLimit,
			Description:   "Redis connected clients at or above the threshold fraction of maxclients",
			Severity:      "critical",
			Threshold:     0.8,
			ThresholdUnit: "fraction of maxclients",
			For:           time.Minute,
			Source:        collectors.SourceRedis,
			eval:          evalRedisNearLimit,
		},
		{
			Name:          RuleRedisGrowing,
			Description:   "Redis connected clients growing steadily across the window (a client leak)",
			Severity:      "warning",
			Threshold:     1,
			ThresholdUnit: "clients per minute",
			For:           5 * time.Minute,
			Window:        10 * time.Minute,
			Source:        collectors.SourceRedis,
			eval:          evalRedisGrowing,
		},
		{
			Name:          RuleJobsOverCapacity,
			Description:   "rows whose count exceeds their limit (e.g. applications over max_applications)",
			Severity:      "warning",
			Threshold:     1,
			ThresholdUnit: "rows over capacity",
			Source:        collectors.SourceJobs,
			eval:          evalOverCapacity,
		},
		pgbouncerWaitingRule(),
	}
}

// Override changes a built-in rule from configuration. Nil fields keep the
// default.
type Override struct {
	Threshold *float64
	For       *time.Duration
	Disabled  bool
}

// ApplyOverrides returns a copy of rules with the overrides applied. An
// unknown rule name or a negative value is an error naming the valid rules,
// so a typo in the config file is not silently ignored.
func ApplyOverrides(rules []Rule, o map[string]Override) ([]Rule, error) {
	out := append([]Rule(nil), rules...)
	index := make(map[string]int, len(out))
	for i := range out {
		index[out[i].Name] = i
	}
	names := make([]string, 0, len(o))
	for name := range o {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		i, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("unknown alert rule %q in the alerts section; valid rules are %s", name, strings.Join(ruleNames(out), ", "))
		}
		ov := o[name]
		if ov.Threshold != nil {
			if *ov.Threshold < 0 {
				return nil, fmt.Errorf("alert rule %s: threshold %g is negative; use a value of 0 or more", name, *ov.Threshold)
			}
			out[i].Threshold = *ov.Threshold
		}
		if ov.For != nil {
			if *ov.For < 0 {
				return nil, fmt.Errorf("alert rule %s: for %s is negative; use 0 or a positive duration", name, *ov.For)
			}
			out[i].For = *ov.For
		}
		out[i].Disabled = ov.Disabled
	}
	return out, nil
}

func ruleNames(rules []Rule) []string {
	names := make([]string, len(rules))
	for i := range rules {
		names[i] = rules[i].Name
	}
	return names
}

// sourceFresh reports whether the snapshot holds a good latest sample of
// the source.
func sourceFresh(s collectors.Snapshot, source string) bool { return s.Source(source).Good() }

func evalConnectionLimit(r *Rule, in *input) outcome {
	pg := in.snap.Postgres
	if pg == nil || pg.MaxConnections <= 0 {
		return outcome{}
	}
	used := float64(pg.Used())
	return outcome{
		known:  true,
		active: used >= r.Threshold*float64(pg.MaxConnections),
		value:  used,
		summary: fmt.Sprintf("%d of %d max_connections in use (%s, threshold %s); %d usable by ordinary roles",
			pg.Used(), pg.MaxConnections, Percent(pg.Used(), pg.MaxConnections), PercentOf(r.Threshold, 1), pg.Usable()),
	}
}

func evalRefusing(r *Rule, in *input) outcome {
	pr := in.snap.Probe
	if pr == nil {
		return outcome{}
	}
	o := outcome{known: true, value: float64(in.refusedStreak)}
	o.active = in.refusedStreak > 0 && o.value >= r.Threshold
	switch {
	case pr.OK:
		o.summary = fmt.Sprintf("the connect probe succeeds (%.0f ms)", pr.ConnectMS)
	case pr.SQLState == sqlstateTooManyConnections:
		o.summary = fmt.Sprintf("new connections are refused (SQLSTATE 53300, %d probe(s) in a row): %s", in.refusedStreak, pr.Error)
	case pr.SQLState == "":
		// No SQLSTATE: the server never answered (down, unreachable), an
		// outage rather than a refusal.
		o.summary = "the connect probe cannot reach the server: " + pr.Error
	default:
		o.summary = fmt.Sprintf("the connect probe fails for another reason (SQLSTATE %s): %s", pr.SQLState, pr.Error)
	}
	return o
}

const sqlstateTooManyConnections = "53300"

func evalLockWaits(r *Rule, in *input) outcome {
	pg := in.snap.Postgres
	if pg == nil {
		return outcome{}
	}
	if o, blind := blindByPrivilege(pg); blind {
		return o
	}
	return outcome{
		known:   true,
		active:  float64(pg.Waiting) >= r.Threshold,
		value:   float64(pg.Waiting),
		summary: fmt.Sprintf("%d sessions waiting on locks (threshold %g)", pg.Waiting, r.Threshold),
	}
}

// evalRedisNearLimit compares the fullest server's clients with its
// maxclients: for a cluster the fullest node's (FullestRedis), since each
// node refuses at its own limit whatever the others hold.
func evalRedisNearLimit(r *Rule, in *input) outcome {
	rs := in.snap.Redis
	if rs == nil {
		return outcome{}
	}
	l := FullestRedis(rs)
	if l.MaxClients <= 0 {
		return outcome{}
	}
	n := float64(l.Clients)
	sum := fmt.Sprintf("%d of %d maxclients connected (%s, threshold %s)",
		l.Clients, l.MaxClients, PercentOf(n, float64(l.MaxClients)), PercentOf(r.Threshold, 1))
	if l.Node != "" {
		sum = fmt.Sprintf("fullest node %s: %s; %d clients on the cluster's %d nodes", l.Node, sum, rs.ConnectedClients, l.Nodes)
	}
	if rs.RejectedConnections > 0 {
		sum += fmt.Sprintf("; %d connections rejected so far", rs.RejectedConnections)
	}
	return outcome{known: true, active: n >= r.Threshold*float64(l.MaxClients), value: n, summary: sum}
}

// evalRedisGrowing calls growth sustained when both halves of the window
// grow at the threshold rate or faster: a single burst, or a climb followed
// by a drop (clients killed), does not count. It needs at least half a
// window of history, so one pass (Once) can never make it active.
func evalRedisGrowing(r *Rule, in *input) outcome {
	rs := in.snap.Redis
	if rs == nil {
		return outcome{}
	}
	pts := in.redisWindow(in.snap.TakenAt.Add(-r.Window))
	o := outcome{known: true}
	n := pts.len()
	if n < 3 || pts.at(n-1).At.Sub(pts.at(0).At) < r.Window/2 {
		o.summary = fmt.Sprintf("%d clients; not enough history yet to judge growth over %s", rs.ConnectedClients, r.Window)
		return o
	}
	first, mid, last := pts.at(0), pts.at(n/2), pts.at(n-1)
	o.value = perMinute(first, last)
	o.active = perMinute(first, mid) >= r.Threshold && perMinute(mid, last) >= r.Threshold
	o.summary = fmt.Sprintf("Redis clients %d → %d over %s (%+.1f per minute, threshold %g)",
		first.RedisClients, last.RedisClients, shortDuration(last.At.Sub(first.At)), o.value, r.Threshold)
	return o
}

// window is the history points with a good Redis sample taken at or after
// a time, oldest first, as indices into the history ring: no copies.
type window struct {
	h   *collectors.History
	idx []int
}

func redisWindow(h *collectors.History, since time.Time) window {
	i := h.Len()
	for i > 0 && !h.At(i-1).At.Before(since) {
		i--
	}
	w := window{h: h, idx: make([]int, 0, h.Len()-i)}
	for ; i < h.Len(); i++ {
		if h.At(i).RedisOK {
			w.idx = append(w.idx, i)
		}
	}
	return w
}

func (w window) len() int                  { return len(w.idx) }
func (w window) at(i int) collectors.Point { return w.h.At(w.idx[i]) }

func perMinute(a, b collectors.Point) float64 {
	d := b.At.Sub(a.At).Minutes()
	if d <= 0 {
		return 0
	}
	return float64(b.RedisClients-a.RedisClients) / d
}

func evalOverCapacity(r *Rule, in *input) outcome {
	j := in.snap.Jobs
	if j == nil {
		return outcome{}
	}
	n := len(j.OverCapacity)
	o := outcome{known: true, value: float64(n), active: n > 0 && float64(n) >= r.Threshold}
	if n == 0 {
		o.summary = "no rows over capacity"
		return o
	}
	worst := j.OverCapacity[0]
	for _, c := range j.OverCapacity[1:] {
		if c.Excess > worst.Excess {
			worst = c
		}
	}
	o.summary = fmt.Sprintf("%d row(s) over capacity; worst: %s at %d against a limit of %d (+%d)",
		n, jobName(worst), worst.Count, worst.Limit, worst.Excess)
	return o
}

func jobName(c collectors.JobCapacity) string {
	if c.Label != "" {
		return fmt.Sprintf("job %s (%s)", c.ID, c.Label)
	}
	return "job " + c.ID
}

func shortDuration(d time.Duration) string { return FormatDuration(d) }
