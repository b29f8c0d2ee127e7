package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// headerPane is the top of the dashboard: the title bar, the PostgreSQL
// and Redis lines (with the probe, the refusals, pgbouncer and the jobs),
// the probe's refusal reason and the alert area. It has no keys of its
// own: the finding lines under it are the findings pane's.
type headerPane struct {
	c             *common
	width, height int
	alerts        int // lines the alert area gets
}

// SetSize is the header's width, its height and how many of its lines
// are the alert area's.
func (h *headerPane) SetSize(w, height int) { h.width, h.height = w, height }

func (h *headerPane) Update(tea.Msg) tea.Cmd { return nil }

// View is the header without the title bar, the fleet block and the
// finding lines, which the root stacks around it.
func (h *headerPane) View() string { return h.render().String() }

func (h *headerPane) render() block { return fitBlock(h.lines(), h.width, h.height) }

// lines are the PG and Redis lines, the probe's refusal reason and the
// alert area, as many as they take.
func (h *headerPane) lines() []string {
	lines := append([]string{h.pgLine(), h.redisLine()}, h.probeReasonLines(h.width)...)
	return append(lines, h.alertLines(h.alerts)...)
}

func (h *headerPane) ShortHelp() []key.Binding  { return nil }
func (h *headerPane) FullHelp() [][]key.Binding { return nil }

// freshness renders "age 2s" or "STALE 45s: <error>" for a source that has
// data (fresh or stale).
func (c *common) freshness(st srcStatus) string {
	if st.state != srcStale {
		return "age " + ageText(st.age)
	}
	msg := c.st.critical.Render("STALE " + ageText(st.age))
	if st.err != "" {
		msg += " " + oneLine(st.err)
	}
	return msg
}

// downText is a source that never answered: the word, how long, the error;
// no numbers, because there are none.
func (c *common) downText(name string, st srcStatus) string {
	t := name + " " + c.st.critical.Render("DOWN") + " no answer for " + ageText(st.age)
	if st.err != "" {
		t += ": " + oneLine(st.err)
	}
	return t
}

func (h *headerPane) titleBar(w int) string {
	left := " slotwatch " + h.c.opts.Mode.String()
	if h.c.opts.Title != "" {
		left += " · " + oneLine(h.c.opts.Title)
	}
	var flags []string
	if h.c.replay != nil {
		flags = append(flags, h.c.replay.status())
	}
	if h.c.paused {
		flags = append(flags, "PAUSED (collection continues)")
	}
	switch {
	case h.c.opts.Mode == ModeReplay:
	case h.c.viewerReadOnly():
		flags = append(flags, "VIEWER · read-only")
	case h.c.opts.Mitigator == nil:
		flags = append(flags, "ACTIONS UNAVAILABLE")
	case h.c.opts.Mitigator.ReadOnly():
		flags = append(flags, "READ-ONLY: actions disabled")
	}
	clock := ""
	if h.c.hasFrame {
		clock = h.c.frame.Snapshot.TakenAt.UTC().Format("2006-01-02 15:04:05Z")
	}
	right := strings.Join(append(flags, clock), "  ") + " "
	room := w - ansi.StringWidth(left) - ansi.StringWidth(right)
	if h.c.opts.Presence != nil {
		if p := presenceText(h.c.opts.Presence(), room-4); p != "" {
			left += "  " + p
			room -= 2 + ansi.StringWidth(p)
		}
	}
	return h.c.st.title.Render(fitLine(left+strings.Repeat(" ", max(room, 1))+right, w))
}

// presenceText is "3 watching: kim (operator), marcus, sarah" in at most w
// cells: names that do not fit become "+N", and with no room for even one
// name only the count is left.
func presenceText(names []string, w int) string {
	if len(names) == 0 || w <= 0 {
		return ""
	}
	head := fmt.Sprintf("%d watching", len(names))
	clean := make([]string, len(names))
	for i, n := range names {
		clean[i] = orDash(n)
	}
	for keep := len(clean); keep > 0; keep-- {
		t := head + ": " + strings.Join(clean[:keep], ", ")
		if keep < len(clean) {
			t += fmt.Sprintf(" +%d", len(clean)-keep)
		}
		if ansi.StringWidth(t) <= w {
			return t
		}
	}
	if len(head) <= w {
		return head
	}
	return ""
}

func (h *headerPane) pgLine() string {
	st := h.c.status(collectors.SourcePostgres)
	switch st.state {
	case srcOff, srcDown:
		t := "PG not configured"
		if st.state == srcDown {
			t = h.c.downText("PG"+h.c.serverLabel(collectors.SourcePostgres), st)
		}
		if h.c.status(collectors.SourceProbe).state != srcOff {
			t += " │ " + h.probeText()
		}
		return t
	}
	pg := h.c.frame.Snapshot.Postgres
	usable := pg.Usable()
	p := pct(float64(pg.Used()), float64(usable))
	used := fmt.Sprintf("%d/%d used", pg.Used(), usable)
	if h.c.ruleActive(analysis.RulePGConnectionLimit) {
		used = h.c.st.critical.Render(used)
	}
	parts := []string{fmt.Sprintf("PG%s %s %s %.0f%% max %d", h.c.serverLabel(collectors.SourcePostgres), used,
		gauge(pg.Used(), usable, 10), p, pg.MaxConnections), h.c.freshness(st)}
	parts = append(parts, h.refusedParts()...)
	// Another PostgreSQL server than the primary has no probe of its own.
	if h.c.status(collectors.SourceProbe).state != srcOff || h.c.frame.Snapshot.Probe != nil || !h.c.fleet.active() {
		parts = append(parts, h.probeText())
	}
	parts = append(parts, oneLine(pg.ServerVersion+" "+pg.Target))
	return strings.Join(parts, " │ ")
}

// probeText is the connect probe's last result with the server's own reason
// for a refusal ("sorry, too many clients already" and "remaining
// connection slots are reserved …" are both 53300 and mean different
// things).
func (h *headerPane) probeText() string {
	pr := h.c.frame.Snapshot.Probe
	st := h.c.status(collectors.SourceProbe)
	if pr == nil {
		if st.state == srcDown {
			return h.c.st.critical.Render("probe FAIL") + " " + oneLine(st.err)
		}
		return "probe off"
	}
	if pr.OK && st.state != srcDown {
		t := fmt.Sprintf("probe OK %.0fms", pr.ConnectMS)
		if st.state == srcStale {
			t += " " + h.c.st.critical.Render("STALE "+ageText(st.age))
		}
		return t
	}
	t := "probe FAIL"
	if pr.SQLState != "" {
		t += " " + oneLine(pr.SQLState)
	}
	t = h.c.st.critical.Render(t) + fmt.Sprintf(" %.0fms", pr.ConnectMS)
	if st.state == srcStale {
		t += " " + h.c.st.critical.Render("STALE "+ageText(st.age))
	}
	return t // the server's reason is in full in the alert area (probeReasonLines)
}

// probeReason is the server's message for a refused probe, never a
// sentence of ours guessed from the SQLSTATE.
func probeReason(pr *collectors.ProbeResult) string {
	r := pr.Reason
	if r == "" { // recordings made before the probe carried the server's message apart
		r = pr.Error
	}
	r = strings.TrimPrefix(oneLine(r), "FATAL: ")
	// The code is already on screen; the server's words are what is new.
	return strings.TrimSuffix(r, " (SQLSTATE "+pr.SQLState+")")
}

func (h *headerPane) redisLine() string {
	var parts []string
	st := h.c.status(collectors.SourceRedis)
	switch st.state {
	case srcOff:
		parts = append(parts, "Redis not configured")
	case srcDown:
		parts = append(parts, h.c.downText("Redis"+h.c.serverLabel(collectors.SourceRedis), st))
	default:
		r := h.c.frame.Snapshot.Redis
		p := pct(float64(r.ConnectedClients), float64(r.MaxClients))
		clients := fmt.Sprintf("Redis%s %d/%d clients %.0f%%", h.c.serverLabel(collectors.SourceRedis), r.ConnectedClients, r.MaxClients, p)
		if h.c.ruleActive(analysis.RuleRedisNearLimit) {
			clients = h.c.st.critical.Render(clients)
		}
		parts = append(parts, clients)
		if r.Cluster {
			parts = append(parts, h.clusterText(r))
		}
		if st.state == srcStale {
			parts = append(parts, h.c.freshness(st))
		}
		parts = append(parts, fmt.Sprintf("rejected %d", r.RejectedConnections))
	}
	if t := h.poolerText(); t != "" {
		parts = append(parts, t)
	}
	if t := h.c.jobsText(); t != "" {
		parts = append(parts, t)
	}
	if st.state == srcFresh || st.state == srcStale {
		r := h.c.frame.Snapshot.Redis
		if st.state == srcFresh {
			parts = append(parts, h.c.freshness(st))
		}
		parts = append(parts, oneLine(r.ServerVersion+" "+r.Target))
	}
	return strings.Join(parts, " │ ")
}

// clusterText is a Redis Cluster's node count and its fullest node: the
// summed clients hide one node at its maxclients.
func (h *headerPane) clusterText(r *collectors.RedisStats) string {
	t := fmt.Sprintf("cluster %d nodes", len(r.Nodes))
	var full *collectors.RedisNodeStats
	down := 0
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Error != "" {
			down++
			continue
		}
		if full == nil || pct(float64(n.ConnectedClients), float64(n.MaxClients)) > pct(float64(full.ConnectedClients), float64(full.MaxClients)) {
			full = n
		}
	}
	if full != nil {
		p := pct(float64(full.ConnectedClients), float64(full.MaxClients))
		f := fmt.Sprintf("fullest %s %d/%d %.0f%%", oneLine(full.Addr), full.ConnectedClients, full.MaxClients, p)
		if full.MaxClients > 0 && p >= 80 {
			f = h.c.st.critical.Render(f)
		}
		t += ", " + f
	}
	if down > 0 {
		t += ", " + h.c.st.critical.Render(fmt.Sprintf("%d node(s) DOWN", down))
	}
	return t
}

// jobsText is the header's jobs part: nothing when the jobs query does not
// apply, DOWN without a count when it never answered, the count with its
// age when stale.
func (c *common) jobsText() string {
	st := c.status(collectors.SourceJobs)
	switch st.state {
	case srcOff:
		return ""
	case srcDown:
		return c.downText("jobs", st)
	}
	j := c.frame.Snapshot.Jobs
	t := fmt.Sprintf("jobs over capacity %d", len(j.OverCapacity))
	if len(j.OverCapacity) > 0 {
		t = c.st.critical.Render(t)
		c := j.OverCapacity[0]
		t += fmt.Sprintf(": %s %d/%d +%d", oneLine(c.ID), c.Count, c.Limit, c.Excess)
	}
	if st.state == srcStale {
		t += " " + c.freshness(st)
	}
	return t
}

// alertRank orders firing before pending before resolved.
func alertRank(s analysis.AlertState) int {
	switch s {
	case analysis.Firing:
		return 0
	case analysis.Pending:
		return 1
	case analysis.Resolved:
		return 2
	}
	return 3
}

// visibleAlerts are the alerts worth a line: not inactive, most urgent first.
func visibleAlerts(alerts []analysis.Alert) []analysis.Alert {
	var out []analysis.Alert
	for _, a := range alerts {
		if a.State != analysis.Inactive && a.State != "" {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b analysis.Alert) int { return alertRank(a.State) - alertRank(b.State) })
	return out
}

// alertItem is one line of the alert area: a blind source, one of
// slotwatch's alerts or an external one. state and name are what the
// overflow line lists when there is no room for the line itself.
type alertItem struct {
	state analysis.AlertState
	name  string
	line  string
}

// stateBlind is the alert area's state for a source it cannot see;
// stateElsewhere counts what fires on servers the panes do not show.
const (
	stateBlind     analysis.AlertState = "blind"
	stateElsewhere analysis.AlertState = "elsewhere"
)

// alertItems are the alert area's lines, most urgent first: what the
// console cannot see (it qualifies every alert below it), then firing,
// pending and resolved alerts, slotwatch's before the team's external ones
// of the same state.
func (h *headerPane) alertItems() []alertItem {
	var items []alertItem
	held := map[string]bool{}
	for _, b := range h.c.blindSources() {
		items = append(items, alertItem{state: stateBlind, name: sourceNames[b.source], line: h.blindLine(b)})
		for _, r := range b.rules {
			held[r] = true
		}
	}
	items = append(items, h.partialItems()...)
	if line := h.elsewhereLine(); line != "" {
		items = append(items, alertItem{state: stateElsewhere, name: fmt.Sprintf("%d on other servers", h.c.fleet.firingElsewhere()),
			line: h.alertLabel(stateElsewhere) + " " + line})
	}
	var rest []alertItem
	for _, a := range visibleAlerts(h.c.frame.Alerts) {
		rest = append(rest, alertItem{state: a.State, name: oneLine(a.Name), line: h.alertLine(a, held[a.Name])})
	}
	rest = append(rest, h.externalItems()...)
	slices.SortStableFunc(rest, func(a, b alertItem) int { return alertRank(a.state) - alertRank(b.state) })
	return append(items, rest...)
}

// blindLine says which source is missing, for how long, and which rules it
// leaves unable to fire or resolve: "blind: no PostgreSQL data for 40s".
func (h *headerPane) blindLine(b blindSource) string {
	what := "no " + sourceNames[b.source] + " data"
	if b.source == collectors.SourceProbe {
		what = "the connect probe cannot tell"
	} else {
		what += " for " + ageText(b.status.age)
	}
	if b.status.state == srcDown && b.source != collectors.SourceProbe { // a probe result has no last-good time
		what += " (DOWN)"
	}
	line := h.alertLabel(stateBlind) + " " + what
	if len(b.rules) > 0 {
		line += "; held: " + strings.Join(b.rules, ", ")
	}
	if b.status.err != "" {
		line += " — " + oneLine(b.status.err)
	}
	return line
}

func (h *headerPane) alertLines(n int) []string {
	items := h.alertItems()
	if len(items) == 0 {
		return []string{h.c.st.ok.Render("OK no alert pending or firing")}
	}
	lines := make([]string, 0, n)
	for i, it := range items {
		if len(lines) == n-1 && len(items)-i > 1 {
			return append(lines, h.alertNames(items[i:]))
		}
		lines = append(lines, it.line)
	}
	return lines
}

// alertCount is how many lines the alert area would like.
func (h *headerPane) alertCount() int { return len(h.alertItems()) }

// alertNames lists the items that got no line of their own, by state.
func (h *headerPane) alertNames(items []alertItem) string {
	var parts []string
	for _, st := range []analysis.AlertState{stateBlind, stateElsewhere, analysis.Firing, analysis.Pending, analysis.Resolved} {
		var names []string
		for _, it := range items {
			if it.state == st {
				names = append(names, it.name)
			}
		}
		if len(names) > 0 {
			parts = append(parts, h.alertLabel(st)+" "+strings.Join(names, ", "))
		}
	}
	return strings.Join(parts, " · ")
}

func (h *headerPane) alertLabel(s analysis.AlertState) string {
	switch s {
	case stateBlind:
		return h.c.st.critical.Render("?? BLIND   ")
	case stateElsewhere:
		return h.c.st.critical.Render("!! OTHERS  ")
	case analysis.Firing:
		return h.c.st.critical.Render("!! FIRING  ")
	case analysis.Pending:
		return h.c.st.warning.Render(" ~ PENDING ")
	}
	return h.c.st.ok.Render("ok RESOLVED")
}

// since is " since 15:04:05 (12m)" on the frames' clock.
func (c *common) since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf(" since %s (%s)", t.UTC().Format("15:04:05"), durOf(c.frame.Snapshot.TakenAt.Sub(t)))
}

// alertLine shows what made the alert fire and, when it differs, what the
// rule sees now (Alert.Text), so a firing alert never contradicts itself;
// held marks an alert whose source is blind, kept where it was.
func (h *headerPane) alertLine(a analysis.Alert, held bool) string {
	name := oneLine(a.Name)
	if held {
		name += " (held)"
	}
	summary := oneLine(a.Text())
	if summary == "" {
		summary = fmt.Sprintf("value %g", a.Value)
	}
	return fmt.Sprintf("%s %s%s: %s", h.alertLabel(a.State), name, h.c.since(a.Since), summary)
}

// externalItems are the team's own firing and pending alerts
// (Alertmanager/Prometheus), marked "ext" so nobody mistakes them for
// slotwatch's rules.
func (h *headerPane) externalItems() []alertItem {
	al := h.c.frame.Snapshot.Alerting
	if al == nil {
		return nil
	}
	stale := h.c.status(collectors.SourceAlerting).blind()
	var out []alertItem
	for _, a := range al.Alerts {
		var st analysis.AlertState
		switch a.State {
		case collectors.ExternalFiring:
			st = analysis.Firing
		case collectors.ExternalPending:
			st = analysis.Pending
		default:
			continue
		}
		name := "ext " + oneLine(a.Name)
		if stale {
			name += " (stale)"
		}
		line := fmt.Sprintf("%s %s%s", h.alertLabel(st), name, h.c.since(a.Since))
		if a.Source != "" {
			line += " [" + oneLine(a.Source) + "]"
		}
		if a.Summary != "" {
			line += ": " + oneLine(a.Summary)
		}
		out = append(out, alertItem{state: st, name: "ext " + oneLine(a.Name), line: line})
	}
	return out
}

func severityRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "warning":
		return 1
	}
	return 2
}

// elsewhereLine counts what fires on servers not shown, so switching to
// one never hides that another is in trouble: "3 firing on other servers:
// primary 2, cache 1".
func (h *headerPane) elsewhereLine() string {
	n := h.c.fleet.firingElsewhere()
	if n == 0 {
		return ""
	}
	parts := make([]string, len(h.c.fleet.othersFiring))
	for i, c := range h.c.fleet.othersFiring {
		parts[i] = fmt.Sprintf("%s %d", oneLine(c.name), c.n)
	}
	return fmt.Sprintf("%d firing on other servers: %s (1-9 or S switches)", n, strings.Join(parts, ", "))
}
