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
	// planMsg is a preview's answer. server is the server the request
	// named ("" for a single target): the dialog says it beside the
	// address. narrow, when set, keeps only the targets the engineer chose.
	planMsg struct {
		server string
		what   string // the failure sentence's subject: "preview", "guard preview"
		plan   actions.Plan
		narrow narrowing
		chosen []sessionTarget
		err    error
	}
	// doneMsg is an execution's answer; plan is what was confirmed, so
	// the footer can say it whatever the Mitigator returned.
	doneMsg struct {
		plan   actions.Plan
		report actions.Report
		err    error
	}
	declinedMsg struct {
		what string
		err  error
	}
)

// narrowing keeps, of a previewed plan, only the targets the engineer
// chose (a pid reused since the snapshot is another session; a group is
// exactly its row).
type narrowing func(actions.Plan) actions.Plan

// keepBackends narrows a session plan to the backends keep accepts.
func keepBackends(keep func(actions.Backend) bool) narrowing {
	if keep == nil {
		return nil
	}
	return func(p actions.Plan) actions.Plan {
		sp, ok := p.(actions.SessionPlan)
		if !ok {
			return p
		}
		sp.Targets = slices.DeleteFunc(slices.Clone(sp.Targets), func(b actions.Backend) bool { return !keep(b) })
		return sp
	}
}

// keepClients narrows a Redis plan to the clients keep accepts.
func keepClients(keep func(collectors.RedisClient) bool) narrowing {
	if keep == nil {
		return nil
	}
	return func(p actions.Plan) actions.Plan {
		rp, ok := p.(actions.RedisPlan)
		if !ok {
			return p
		}
		rp.Targets = slices.DeleteFunc(slices.Clone(rp.Targets), func(c collectors.RedisClient) bool { return !keep(c) })
		return rp
	}
}

// confirmDialog holds a previewed plan until the engineer answers.
type confirmDialog struct {
	c             *common
	keys          confirmKeys
	width, height int
	plan          actions.Plan
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

func (d *confirmDialog) targets() int { return d.plan.Size() }

// scrolls: the dialog has a target list to scroll (a guard has none).
func (d *confirmDialog) scrolls() bool { return wordsOf(d.plan).list }

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
	return c.previewCmd(req, keepBackends(narrow), targets)
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
	return c.previewCmd(req, keepBackends(narrow), nil)
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
		return p.c.previewCmd(f, keepClients(func(rc collectors.RedisClient) bool { return rc.ID == id && rc.Node == node }), nil)
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
	return p.c.previewCmd(f, keepClients(narrow), nil)
}

// previewCmd asks the Mitigator for the plan of req.
func (c *common) previewCmd(req actions.Request, narrow narrowing, chosen []sessionTarget) tea.Cmd {
	mit, ctx := c.opts.Mitigator, c.ctx
	what := "preview"
	if _, guard := req.(actions.GuardRequest); guard {
		what = "guard preview"
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		plan, err := mit.Preview(ctx, req)
		return planMsg{server: req.Where(), what: what, plan: plan, narrow: narrow, chosen: chosen, err: err}
	}
}

// onActionMsg handles previews, results and audit refreshes.
func (m *Model) onActionMsg(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case planMsg:
		if msg.err != nil || msg.plan == nil {
			m.footer.setError(msg.what, cmp.Or(msg.err, errors.New("the preview returned no plan")))
			return nil
		}
		plan := msg.plan
		if msg.narrow != nil {
			plan = msg.narrow(plan)
		}
		m.confirm = &confirmDialog{c: &m.common, keys: m.confirmKeys, plan: plan, dropped: msg.plan.Size() - plan.Size(), chosen: msg.chosen,
			back: m.answerMode(), serverName: cmp.Or(plan.Where(), msg.server)}
		m.mode = modeConfirm
		m.footer.setText("")
	case doneMsg:
		w := wordsOf(msg.plan)
		switch {
		case msg.err != nil:
			m.footer.setError(w.what, msg.err)
		case msg.report == nil:
			m.footer.setError(w.what, errors.New("the action returned no report; check the audit log"))
		default:
			m.footer.setText(w.done(msg.report))
			if w.clearsMarks {
				clear(m.sessions.marks)
			}
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
		d.scroll = min(d.scroll+1, len(d.planBody(d.plan)))
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
	if d.scrolls() {
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
	p, ok := d.plan.(actions.SessionPlan)
	return ok && p.Request.Kind == actions.Cancel && len(d.chosen) > 0
}

func (d *confirmDialog) executeCmd() tea.Cmd {
	mit, ctx, plan := d.c.opts.Mitigator, d.c.ctx, d.plan
	d.c.notify(wordsOf(plan).running)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		rep, err := mit.Execute(ctx, plan)
		return doneMsg{plan: plan, report: rep, err: err}
	}
}

func (d *confirmDialog) declineCmd() tea.Cmd {
	mit, ctx, plan := d.c.opts.Mitigator, d.c.ctx, d.plan
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		return declinedMsg{what: wordsOf(plan).what, err: mit.Decline(ctx, plan)}
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
	words := wordsOf(d.plan)
	wrap(d.c.st.dialog.Render, "", words.title+" on "+onServer(d.serverName, d.plan.Target()))
	for _, f := range words.fields {
		wrap(plain, f[0], f[1])
	}
	statement(words.statement)
	for _, n := range words.notes {
		wrap(d.c.st.warning.Render, "Note: ", n)
	}
	body = d.planBody(d.plan)
	if d.dropped > 0 {
		wrap(d.c.st.warning.Render, "Note: ", fmt.Sprintf(
			"%d matching target(s) left out: not the sessions/clients on screen (pid reused by a new backend, or outside the group).", d.dropped))
	}
	ask := fmt.Sprintf("Press y to %s these %d target(s); n or Esc declines (↑/↓ scroll).", words.verb, d.targets())
	switch {
	case words.ask != "":
		ask = words.ask
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

// planWords is how the dialog and the footer say one plan: the one place
// that knows each kind's words.
type planWords struct {
	what    string // subject of the declined and failure sentences
	verb    string // what y does to the targets
	title   string // the dialog's heading, before the server
	fields  [][2]string
	running string // the footer while it runs
	ask     string // the dialog's question, when not the targets'
	// statement and notes are the plan's, shown under the heading.
	statement string
	notes     []string
	// list: the dialog has a target list to scroll; clearsMarks: the
	// marked sessions were acted on.
	list, clearsMarks bool
	done              func(actions.Report) string // the footer when it ran
}

func wordsOf(plan actions.Plan) planWords {
	switch p := plan.(type) {
	case actions.SessionPlan:
		kind := string(p.Request.Kind)
		return planWords{what: kind, verb: kind, list: true, clearsMarks: true,
			title: fmt.Sprintf("CONFIRM %s of %d session(s)", strings.ToUpper(kind), len(p.Targets)),
			fields: [][2]string{{"Predicate: ", fmt.Sprintf("%s → %d session(s) match, %d excluded by the safety policy",
				p.Request.Filter.String(), len(p.Targets), len(p.Excluded))}},
			statement: p.Statement, notes: p.Notes,
			running: fmt.Sprintf("Running %s on %d session(s)…", kind, len(p.Targets)),
			done: func(r actions.Report) string {
				return summarize(kind+onName(cmp.Or(p.ServerName, p.Request.Server)), r.Outcomes())
			}}
	case actions.RedisPlan:
		return planWords{what: "CLIENT KILL", verb: "kill", list: true,
			title: fmt.Sprintf("CONFIRM CLIENT KILL of %d Redis client(s)", len(p.Targets)),
			fields: [][2]string{{"Predicate: ", fmt.Sprintf("%s → %d client(s) match, %d excluded by the safety policy",
				p.Filter.String(), len(p.Targets), len(p.Excluded))}},
			statement: p.Statement, notes: p.Notes,
			running: fmt.Sprintf("Killing %d Redis client(s)…", len(p.Targets)),
			done: func(r actions.Report) string {
				return summarize("CLIENT KILL"+onName(cmp.Or(p.ServerName, p.Filter.Server)), r.Outcomes())
			}}
	case actions.GuardPlan:
		return planWords{what: "guard " + p.Setting, verb: "set", ask: "Press y to apply this change; n or Esc declines.",
			title: fmt.Sprintf("CONFIRM GUARD %s%s", p.Setting, forRole(p.Role)),
			fields: [][2]string{{"Current:   ", actions.ShowGuardValue(p.Setting, p.Current)},
				{"New:       ", actions.ShowGuardValue(p.Setting, p.New)}},
			statement: p.Statement, notes: p.Notes,
			running: fmt.Sprintf("Setting %s%s…", p.Setting, forRole(p.Role)),
			done:    func(r actions.Report) string { return guardDone(p, r) }}
	}
	return planWords{what: plan.ActionName(), verb: plan.ActionName(), title: "CONFIRM " + strings.ToUpper(plan.ActionName()),
		running: "Running " + plan.ActionName() + "…", done: func(r actions.Report) string { return summarize(plan.ActionName(), r.Outcomes()) }}
}

// guardDone is the footer of a guard change that ran.
func guardDone(p actions.GuardPlan, r actions.Report) string {
	res, _ := r.(actions.GuardResult)
	if res.Outcome == actions.Done {
		return fmt.Sprintf("guard %s%s set to %s (was %s); guard revert undoes it.", p.Setting,
			forRole(p.Role), actions.ShowGuardValue(p.Setting, p.New), actions.ShowGuardValue(p.Setting, p.Current))
	}
	return fmt.Sprintf("guard %s: %s %s", p.Setting, res.Outcome, oneLine(res.Reason))
}

// planBody is the dialog's scrolling part: the targets and what the
// policy excluded, or a cluster guard's nodes.
func (d *confirmDialog) planBody(plan actions.Plan) []string {
	switch p := plan.(type) {
	case actions.SessionPlan:
		return d.sessionTargetLines(&p)
	case actions.RedisPlan:
		return d.redisTargetLines(&p)
	case actions.GuardPlan:
		return d.guardNodeLines(&p)
	}
	return nil
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
