package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

type sessionTarget = collectors.Session

const (
	kindCancel    = actions.Cancel
	kindTerminate = actions.Terminate
)

// actionTimeout bounds one preview or execution so a hung server cannot keep
// the dialog waiting forever.
const actionTimeout = 60 * time.Second

// Messages carrying action results back into Update.
type (
	// server in the plan messages is the server name the request named
	// ("" for a single target): the dialog says it beside the address.
	sessionPlanMsg struct {
		server string
		plan   actions.SessionPlan
		narrow func(actions.Backend) bool
		chosen []sessionTarget
		err    error
	}
	redisPlanMsg struct {
		server string
		plan   actions.RedisPlan
		narrow func(collectors.RedisClient) bool
		err    error
	}
	sessionDoneMsg struct {
		report actions.SessionReport
		err    error
	}
	redisDoneMsg struct {
		report actions.RedisReport
		err    error
	}
	declinedMsg struct {
		what string
		err  error
	}
	guardPlanMsg struct {
		server string
		plan   actions.GuardPlan
		err    error
	}
	guardDoneMsg struct {
		result actions.GuardResult
		err    error
	}
)

// confirmDialog holds a previewed plan until the engineer answers.
type confirmDialog struct {
	c             *common
	keys          confirmKeys
	width, height int
	session       *actions.SessionPlan
	redis         *actions.RedisPlan
	guard         *actions.GuardPlan
	// back is the mode the answer returns to: the findings view when the
	// action came from a finding, the dashboard otherwise.
	back   uiMode
	scroll int
	// dropped counts previewed targets left out because they were not what
	// the engineer chose (a pid reused by a new backend, a client outside
	// the group).
	dropped int
	// chosen are the sessions a cancel was asked for, so the dialog can
	// offer to terminate them instead (cancel does nothing to idle ones).
	chosen []sessionTarget
	// serverName is the server the request named when several are
	// watched; "" for a single target.
	serverName string
}

func (d *confirmDialog) targets() int {
	switch {
	case d.session != nil:
		return len(d.session.Targets)
	case d.guard != nil:
		return 1
	}
	return len(d.redis.Targets)
}

// lines bounds scrolling: targets and exclusions plus their headings.
func (d *confirmDialog) lines() int {
	switch {
	case d.session != nil:
		return len(d.session.Targets) + len(d.session.Excluded) + 2
	case d.guard != nil:
		return len(d.guard.Notes) + len(d.guard.Nodes) + 1
	}
	return len(d.redis.Targets) + len(d.redis.Excluded) + 2
}

// answerMode is where a dialog opened now returns: the findings view when
// the preview was asked from it.
func (c *common) answerMode() uiMode {
	if c.mode == modeFindings {
		return modeFindings
	}
	return modeNormal
}

// askSessions previews a cancel or terminate of the given sessions of the
// shown PostgreSQL server.
func (c *common) askSessions(kind actions.Kind, targets []sessionTarget) tea.Cmd {
	return c.askSessionsOn(c.pgTarget(), kind, targets)
}

// askSessionsOn is askSessions on the named server ("" for a single
// target): the sessions are that server's backends.
func (c *common) askSessionsOn(server string, kind actions.Kind, targets []sessionTarget) tea.Cmd {
	if len(targets) == 0 {
		c.notify("No session under the cursor.")
		return nil
	}
	keys := make(map[int32]time.Time, len(targets))
	req := actions.SessionRequest{Server: server, Kind: kind}
	for _, s := range targets {
		req.Filter.PIDs = append(req.Filter.PIDs, s.PID)
		keys[s.PID] = s.BackendStart
	}
	// Keep only the backends that were on screen: a pid reused since the
	// snapshot is a different session and is not the engineer's choice.
	narrow := func(b actions.Backend) bool {
		start, ok := keys[b.PID]
		return ok && (start.IsZero() || b.BackendStart.IsZero() || start.Equal(b.BackendStart))
	}
	c.notify(fmt.Sprintf("Previewing %s of %d session(s)…", kind, len(targets)))
	return c.previewSessionsCmd(req, narrow, targets)
}

// askGroup previews "terminate every session of this group idle longer than N".
// The client address is part of the scope only when the groups pane is
// split by client (c): G acts on exactly what the row shows.
func (c *common) askGroup(g collectors.SessionGroup, byClient bool) tea.Cmd {
	sc := scopeOf(g, byClient)
	req := actions.SessionRequest{Server: c.pgTarget(), Kind: actions.Terminate, Filter: actions.SessionFilter{
		States: []string{"idle"}, IdleOver: c.opts.GroupIdleOver,
		App: globExact(g.ApplicationName), User: globExact(g.Usename), DB: globExact(g.Datname),
	}}
	if byClient {
		req.Filter.Client = globExact(g.ClientAddr)
	}
	// An empty field would match everything in the filter: narrow the plan
	// to exactly this group.
	narrow := func(b actions.Backend) bool {
		return sc.matches(b.ApplicationName, b.Usename, b.Datname, b.ClientAddr)
	}
	c.notify(fmt.Sprintf("Previewing terminate of %s sessions idle over %s…", sc.label(), durOf(c.opts.GroupIdleOver)))
	return c.previewSessionsCmd(req, narrow, nil)
}

func groupOfSession(s *collectors.Session) collectors.SessionGroup {
	return collectors.SessionGroup{ApplicationName: s.ApplicationName, Usename: s.Usename, ClientAddr: s.ClientAddr, Datname: s.Datname}
}

// globExact quotes glob metacharacters in brackets ([*]) so a value
// matches only itself; actions' globs have no backslash escape.
func globExact(s string) string {
	return strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]").Replace(s)
}

// askRedis previews killing the client or group under the Redis cursor.
func (p *redisPane) askRedis() tea.Cmd {
	server := p.c.redisTarget()
	if c := p.currentClient(); c != nil {
		// Client ids are per node in a cluster: the one on screen is this
		// id on this node.
		id, node := c.ID, c.Node
		f := actions.RedisFilter{Server: server, IDs: []int64{id}}
		p.c.notify(fmt.Sprintf("Previewing CLIENT KILL of client %d…", id))
		return p.c.previewRedisCmd(f, func(rc collectors.RedisClient) bool { return rc.ID == id && rc.Node == node })
	}
	g := p.currentGroup()
	if g == nil {
		p.c.notify(p.noTargetText())
		return nil
	}
	grp := *g
	f := actions.RedisFilter{Server: server, Host: globExact(grp.Host), Lib: globExact(grp.LibName),
		Name: strings.ReplaceAll(globExact(grp.Name), "#", "*")}
	narrow := func(c collectors.RedisClient) bool {
		return c.Host() == grp.Host && c.LibName == grp.LibName && collectors.FoldName(c.Name) == grp.Name
	}
	p.c.notify(fmt.Sprintf("Previewing CLIENT KILL of group %s…", grp.Key()))
	return p.c.previewRedisCmd(f, narrow)
}

func (c *common) previewSessionsCmd(req actions.SessionRequest, narrow func(actions.Backend) bool, chosen []sessionTarget) tea.Cmd {
	mit, ctx := c.opts.Mitigator, c.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		plan, err := mit.PreviewSessions(ctx, req)
		return sessionPlanMsg{server: req.Server, plan: plan, narrow: narrow, chosen: chosen, err: err}
	}
}

func (c *common) previewRedisCmd(f actions.RedisFilter, narrow func(collectors.RedisClient) bool) tea.Cmd {
	mit, ctx := c.opts.Mitigator, c.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		plan, err := mit.PreviewRedis(ctx, f)
		return redisPlanMsg{server: f.Server, plan: plan, narrow: narrow, err: err}
	}
}

// onActionMsg handles previews, results and audit refreshes.
func (m *Model) onActionMsg(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case sessionPlanMsg:
		if msg.err != nil {
			m.footer.setError("preview", msg.err)
			return nil
		}
		plan := msg.plan
		if msg.narrow != nil {
			plan.Targets = slices.DeleteFunc(slices.Clone(plan.Targets), func(b actions.Backend) bool { return !msg.narrow(b) })
		}
		m.confirm = &confirmDialog{c: &m.common, keys: m.confirmKeys, session: &plan, dropped: len(msg.plan.Targets) - len(plan.Targets), chosen: msg.chosen,
			back: m.answerMode(), serverName: cmp.Or(plan.ServerName, msg.server)}
		m.mode = modeConfirm
		m.footer.setText("")
	case redisPlanMsg:
		if msg.err != nil {
			m.footer.setError("preview", msg.err)
			return nil
		}
		plan := msg.plan
		if msg.narrow != nil {
			plan.Targets = slices.DeleteFunc(slices.Clone(plan.Targets), func(c collectors.RedisClient) bool { return !msg.narrow(c) })
		}
		m.confirm = &confirmDialog{c: &m.common, keys: m.confirmKeys, redis: &plan, dropped: len(msg.plan.Targets) - len(plan.Targets), back: m.answerMode(),
			serverName: cmp.Or(plan.ServerName, msg.server)}
		m.mode = modeConfirm
		m.footer.setText("")
	case guardPlanMsg:
		if msg.err != nil {
			m.footer.setError("guard preview", msg.err)
			return nil
		}
		plan := msg.plan
		m.confirm, m.mode = &confirmDialog{c: &m.common, keys: m.confirmKeys, guard: &plan, back: m.answerMode(), serverName: cmp.Or(plan.ServerName, msg.server)}, modeConfirm
		m.footer.setText("")
	case guardDoneMsg:
		p := msg.result.Plan
		switch {
		case msg.err != nil:
			m.footer.setError("guard "+p.Setting, msg.err)
		case msg.result.Outcome == actions.Done:
			m.footer.setText(fmt.Sprintf("guard %s%s set to %s (was %s); guard revert undoes it.", p.Setting,
				forRole(p.Role), actions.ShowGuardValue(p.Setting, p.New), actions.ShowGuardValue(p.Setting, p.Current)))
		default:
			m.footer.setText(fmt.Sprintf("guard %s: %s %s", p.Setting, msg.result.Outcome, oneLine(msg.result.Reason)))
		}
		return m.auditCmd()
	case sessionDoneMsg:
		if msg.err != nil {
			m.footer.setError(string(msg.report.Plan.Request.Kind), msg.err)
		} else {
			p := msg.report.Plan
			m.footer.setText(summarize(string(p.Request.Kind)+onName(cmp.Or(p.ServerName, p.Request.Server)), msg.report.Results))
			clear(m.sessions.marks)
		}
		return m.auditCmd()
	case redisDoneMsg:
		if msg.err != nil {
			m.footer.setError("CLIENT KILL", msg.err)
		} else {
			p := msg.report.Plan
			m.footer.setText(summarize("CLIENT KILL"+onName(cmp.Or(p.ServerName, p.Filter.Server)), msg.report.Results))
		}
		return m.auditCmd()
	case declinedMsg:
		if msg.err != nil {
			m.footer.setError("recording the declined "+msg.what, msg.err)
		} else {
			m.footer.setText(fmt.Sprintf("Declined %s: nothing was changed.", msg.what))
		}
		return m.auditCmd()
	case refusedMsg:
		// Refuse hands the refusal back; anything else is a failure.
		if msg.err != nil && !actions.IsRefused(msg.err) {
			m.footer.setError("recording the refusal", msg.err)
		}
		return m.auditCmd()
	case auditMsg:
		m.footer.audit = msg.entries
	}
	return nil
}

// Update answers the dialog: y runs the plan, n declines it, K turns a
// cancel into a terminate of the same sessions.
func (d *confirmDialog) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	k := d.keys
	switch {
	case key.Matches(km, k.Up):
		d.scroll = max(0, d.scroll-1)
	case key.Matches(km, k.Down):
		d.scroll = min(d.scroll+1, d.lines())
	case key.Matches(km, k.Yes):
		d.c.send(closeDialogMsg{back: d.back})
		if d.targets() == 0 {
			d.c.notify("Nothing to do: no target left after the safety policy.")
			return d.declineCmd()
		}
		return d.executeCmd()
	case key.Matches(km, k.No):
		d.c.send(closeDialogMsg{back: d.back})
		return d.declineCmd()
	case d.offersTerminate() && key.Matches(km, k.Instead):
		d.c.send(closeDialogMsg{back: d.back})
		cmd := d.c.askSessionsOn(d.serverName, kindTerminate, d.chosen)
		return tea.Sequence(d.declineCmd(), cmd)
	}
	return nil
}

func (d *confirmDialog) SetSize(w, h int) { d.width, d.height = w, h }

func (d *confirmDialog) View() string { return d.dialogView(d.width, d.height).String() }

// ShortHelp: a guard has no target list to scroll.
func (d *confirmDialog) ShortHelp() []key.Binding {
	out := []key.Binding{d.keys.Yes, d.keys.No}
	if d.guard == nil {
		out = append(out, d.keys.Down)
	}
	if d.offersTerminate() {
		out = append(out, d.keys.Instead)
	}
	return out
}

func (d *confirmDialog) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

// offersTerminate: a cancel was asked for chosen sessions, which
// terminate can act on where cancel cannot (idle ones).
func (d *confirmDialog) offersTerminate() bool {
	return d.session != nil && d.session.Request.Kind == actions.Cancel && len(d.chosen) > 0
}

func (d *confirmDialog) executeCmd() tea.Cmd {
	mit, ctx := d.c.opts.Mitigator, d.c.ctx
	if d.guard != nil {
		plan := *d.guard
		d.c.notify(fmt.Sprintf("Setting %s%s…", plan.Setting, forRole(plan.Role)))
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, actionTimeout)
			defer cancel()
			res, err := mit.ExecuteGuard(ctx, plan)
			res.Plan = plan
			return guardDoneMsg{result: res, err: err}
		}
	}
	if d.session != nil {
		plan := *d.session
		d.c.notify(fmt.Sprintf("Running %s on %d session(s)…", plan.Request.Kind, len(plan.Targets)))
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, actionTimeout)
			defer cancel()
			rep, err := mit.ExecuteSessions(ctx, plan)
			rep.Plan = plan
			return sessionDoneMsg{report: rep, err: err}
		}
	}
	plan := *d.redis
	d.c.notify(fmt.Sprintf("Killing %d Redis client(s)…", len(plan.Targets)))
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		rep, err := mit.ExecuteRedis(ctx, plan)
		rep.Plan = plan
		return redisDoneMsg{report: rep, err: err}
	}
}

func (d *confirmDialog) declineCmd() tea.Cmd {
	mit, ctx := d.c.opts.Mitigator, d.c.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		switch {
		case d.session != nil:
			return declinedMsg{what: string(d.session.Request.Kind), err: mit.DeclineSessions(ctx, *d.session)}
		case d.guard != nil:
			return declinedMsg{what: "guard " + d.guard.Setting, err: mit.DeclineGuard(ctx, *d.guard)}
		}
		return declinedMsg{what: "CLIENT KILL", err: mit.DeclineRedis(ctx, *d.redis)}
	}
}

// summarize turns per-target results into one footer sentence.
func summarize(what string, results []actions.TargetResult) string {
	counts := map[actions.Outcome]int{}
	var reasons []string
	for _, r := range results {
		counts[r.Outcome]++
		if (r.Outcome == actions.Skipped || r.Outcome == actions.Failed) && r.Reason != "" && len(reasons) < 2 {
			reasons = append(reasons, fmt.Sprintf("%d: %s", r.ID, r.Reason))
		}
	}
	var parts []string
	for _, o := range []actions.Outcome{actions.Done, actions.Gone, actions.Skipped, actions.Failed} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no target")
	}
	s := fmt.Sprintf("%s: %s", what, strings.Join(parts, ", "))
	if len(reasons) > 0 {
		s += " (" + strings.Join(reasons, "; ") + ")"
	}
	return s
}

// dialogView renders the confirmation: what will run, on which targets, and
// what the safety policy excluded. The heading, the predicate with its count
// and the notes wrap: they are never cut, only the target list scrolls.
func (d *confirmDialog) dialogView(w, h int) block {
	var head, body []string
	wrap := func(style func(...string) string, label, text string) {
		for _, l := range wrapHanging(label, oneLine(text), w) {
			head = append(head, style(l))
		}
	}
	plain := func(s ...string) string { return strings.Join(s, "") }
	// The statement is long (the re-checking terminate) and the audit log
	// keeps it whole: a few lines of it, never at the cost of the targets.
	statement := func(text string) {
		lines := wrapHanging("Statement: ", oneLine(text), w)
		if limit := max(2, h/8); len(lines) > limit {
			const more = " … (whole in the audit log)"
			last := ansi.Truncate(lines[limit-1], max(w-ansi.StringWidth(more), 0), "")
			lines = append(lines[:limit-1], last+more)
		}
		head = append(head, lines...)
	}
	var verb string
	switch {
	case d.session != nil:
		p := d.session
		verb = string(p.Request.Kind)
		wrap(d.c.st.dialog.Render, "", fmt.Sprintf("CONFIRM %s of %d session(s) on %s", strings.ToUpper(verb), len(p.Targets), onServer(d.serverName, p.Server)))
		wrap(plain, "Predicate: ", fmt.Sprintf("%s → %d session(s) match, %d excluded by the safety policy",
			p.Request.Filter.String(), len(p.Targets), len(p.Excluded)))
		statement(p.Statement)
		for _, n := range p.Notes {
			wrap(d.c.st.warning.Render, "Note: ", n)
		}
		body = d.sessionTargetLines(p)
	case d.guard != nil:
		p := d.guard
		verb = "set"
		wrap(d.c.st.dialog.Render, "", fmt.Sprintf("CONFIRM GUARD %s%s on %s", p.Setting, forRole(p.Role), onServer(d.serverName, p.Server)))
		wrap(plain, "Current:   ", actions.ShowGuardValue(p.Setting, p.Current))
		wrap(plain, "New:       ", actions.ShowGuardValue(p.Setting, p.New))
		statement(p.Statement)
		for _, n := range p.Notes {
			wrap(d.c.st.warning.Render, "Note: ", n)
		}
		body = d.guardNodeLines(p)
	default:
		p := d.redis
		verb = "kill"
		wrap(d.c.st.dialog.Render, "", fmt.Sprintf("CONFIRM CLIENT KILL of %d Redis client(s) on %s", len(p.Targets), onServer(d.serverName, p.Server)))
		wrap(plain, "Predicate: ", fmt.Sprintf("%s → %d client(s) match, %d excluded by the safety policy",
			p.Filter.String(), len(p.Targets), len(p.Excluded)))
		statement(p.Statement)
		for _, n := range p.Notes {
			wrap(d.c.st.warning.Render, "Note: ", n)
		}
		body = d.redisTargetLines(p)
	}
	if d.dropped > 0 {
		wrap(d.c.st.warning.Render, "Note: ", fmt.Sprintf(
			"%d matching target(s) left out: not the sessions/clients on screen (pid reused by a new backend, or outside the group).", d.dropped))
	}
	ask := fmt.Sprintf("Press y to %s these %d target(s); n or Esc declines (↑/↓ scroll).", verb, d.targets())
	switch {
	case d.guard != nil:
		ask = "Press y to apply this change; n or Esc declines."
	case d.targets() == 0:
		ask = "Nothing would be changed. Press n or Esc to close."
	}
	if d.offersTerminate() {
		ask += " K terminates them instead."
	}
	var askLines []string
	for _, l := range wrapText(ask, w) {
		askLines = append(askLines, d.c.st.dialog.Render(l))
	}
	room := max(h-len(head)-len(askLines), 0)
	scroll := min(d.scroll, max(len(body)-room, 0))
	end := min(len(body), scroll+room)
	lines := append(head, body[scroll:end]...)
	if end < len(body) && room > 0 {
		lines[len(lines)-1] = d.c.st.dim.Render(fmt.Sprintf("  … %d more lines (↓ to scroll)", len(body)-end+1))
	}
	lines = append(fitBlock(lines, w, max(h-len(askLines), 0)), askLines...)
	return fitBlock(lines, w, h)
}

func (d *confirmDialog) sessionTargetLines(p *actions.SessionPlan) []string {
	body := []string{d.c.st.heading.Render(fmt.Sprintf("Targets (%d)", len(p.Targets)))}
	for _, b := range p.Targets {
		body = append(body, fmt.Sprintf("  %7d %-14s %-16s %-15s %-8s %8s  %s", b.PID, orDash(b.Usename), orDash(b.ApplicationName),
			orDash(b.ClientAddr), orDash(b.State), dur(b.StateSeconds), oneLine(clip(b.Query, 1024))))
	}
	body = append(body, d.c.st.heading.Render(fmt.Sprintf("Excluded by the safety policy (%d)", len(p.Excluded))))
	for _, e := range p.Excluded {
		body = append(body, fmt.Sprintf("  %7d %-14s %-16s %s", e.Backend.PID, orDash(e.Backend.Usename),
			orDash(e.Backend.ApplicationName), oneLine(e.Reason)))
	}
	return body
}

// guardNodeLines are a Redis Cluster guard's nodes, each with its value
// now and after: the timeout is set on every node.
func (d *confirmDialog) guardNodeLines(p *actions.GuardPlan) []string {
	if len(p.Nodes) == 0 {
		return nil
	}
	body := []string{d.c.st.heading.Render(fmt.Sprintf("Nodes (%d)", len(p.Nodes)))}
	for _, n := range p.Nodes {
		body = append(body, fmt.Sprintf("  %-21s %s → %s", orDash(oneLine(n.Node)), actions.ShowGuardValue(p.Setting, n.Current), actions.ShowGuardValue(p.Setting, n.New)))
	}
	return body
}

func (d *confirmDialog) redisTargetLines(p *actions.RedisPlan) []string {
	body := []string{d.c.st.heading.Render(fmt.Sprintf("Targets (%d)", len(p.Targets)))}
	for _, c := range p.Targets {
		body = append(body, fmt.Sprintf("  %7d %-21s %-14s %-10s age %s idle %s", c.ID, orDash(c.Addr), orDash(c.Name),
			orDash(c.LibName), dur(float64(c.AgeSeconds)), dur(float64(c.IdleSeconds))))
	}
	body = append(body, d.c.st.heading.Render(fmt.Sprintf("Excluded by the safety policy (%d)", len(p.Excluded))))
	for _, e := range p.Excluded {
		body = append(body, fmt.Sprintf("  %7d %-21s %s", e.Client.ID, orDash(e.Client.Addr), oneLine(e.Reason)))
	}
	return body
}

// wrapHanging wraps label+text to w cells, continuation lines indented
// under the text so a long predicate reads as one field.
func wrapHanging(label, text string, w int) []string {
	lw := len([]rune(label))
	if w-lw < 20 {
		return wrapText(label+text, w)
	}
	lines := wrapText(text, w-lw)
	pad := strings.Repeat(" ", lw)
	for i := range lines {
		if i == 0 {
			lines[i] = label + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return lines
}

// onServer names the target of a dialog: "replica-1 (10.0.0.2:5432)" when
// several servers are watched, the address alone for a single target (or
// a server named by its address).
func onServer(name, addr string) string {
	switch {
	case name == "" || name == addr:
		return addr
	case addr == "":
		return name
	}
	return name + " (" + addr + ")"
}

// onName is " on replica-1" for a result line, "" for a single target.
func onName(name string) string {
	if name == "" {
		return ""
	}
	return " on " + oneLine(name)
}

func forRole(role string) string {
	if role == "" {
		return ""
	}
	return " for role " + role
}

// errorText is the sentence shown for a failed action.
func errorText(what string, err error) string {
	switch {
	case errors.Is(err, actions.ErrReadOnly):
		return "Refused: " + err.Error()
	case actions.IsRefused(err):
		return "Refused by the safety policy: " + err.Error()
	}
	return fmt.Sprintf("%s failed: %v", what, err)
}

// closeDialogMsg closes the confirmation and returns to back.
type closeDialogMsg struct{ back uiMode }
