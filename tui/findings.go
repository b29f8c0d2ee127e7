package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// findingsView lists every finding with its evidence, fix and suggested
// mitigations. The selection follows a finding (ID + About) across
// refreshes, so a new finding ranked above it does not move the cursor to
// another cause while the engineer reads.
type findingsView struct {
	c             *common
	keys          findingKeys
	enter         key.Binding // opens the view from the header's finding lines
	width, height int
	// headerLines is how many finding lines the header shows now: the
	// cursor on them stays within what is seen.
	headerLines int
	sel         int
	key         string
	// within is how far the engineer scrolled from the selected finding's
	// first line (PgUp/PgDn), so a refresh that adds a finding above it
	// does not scroll the one being read away.
	within int
}

func findingKey(f *analysis.Finding) string { return f.ID + "\x00" + f.About }

// sortFindings ranks critical before warning before info, keeping the
// analysis order within a severity. The header's finding lines and the
// findings view use the same order, so Enter on a line opens that finding.
func sortFindings(fs []analysis.Finding) []analysis.Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b analysis.Finding) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	return out
}

// findingsList is the frame's findings in display order, with the selection
// re-resolved against it.
func (p *findingsView) findingsList() []analysis.Finding {
	fs := sortFindings(p.c.frame.Findings)
	v := p
	if i := slices.IndexFunc(fs, func(f analysis.Finding) bool { return findingKey(&f) == v.key }); i >= 0 {
		v.sel = i
	}
	v.sel = max(0, min(v.sel, len(fs)-1))
	return fs
}

// selectFinding moves the selection to index i of fs.
func (v *findingsView) selectFinding(fs []analysis.Finding, i int) {
	if len(fs) == 0 {
		v.sel, v.key = 0, ""
		return
	}
	v.sel = max(0, min(i, len(fs)-1))
	v.key = findingKey(&fs[v.sel])
	v.within = 0
}

func (p *findingsView) onFindingsKey(msg tea.KeyMsg) tea.Cmd {
	fs := p.findingsList()
	v := p
	k, n := p.keys, p.c.nav
	switch {
	case key.Matches(msg, p.c.global.Quit):
		return tea.Quit
	case key.Matches(msg, p.c.global.Help):
		p.c.send(openHelpMsg{back: modeFindings})
	case p.c.actionsDisabled() && mitigationKey(msg.String()):
		return p.actOnFinding(fs, mitigationIndex(msg.String()))
	case key.Matches(msg, k.Back):
		p.c.send(setModeMsg{mode: modeNormal})
	case key.Matches(msg, n.Up):
		v.selectFinding(fs, v.sel-1)
	case key.Matches(msg, n.Down):
		v.selectFinding(fs, v.sel+1)
	case key.Matches(msg, n.Top):
		v.selectFinding(fs, 0)
	case key.Matches(msg, n.Bottom):
		v.selectFinding(fs, len(fs)-1)
	case key.Matches(msg, n.PageDown):
		p.scrollFindings(fs, p.findingsPage())
	case key.Matches(msg, n.PageUp):
		p.scrollFindings(fs, -p.findingsPage())
	case key.Matches(msg, k.Act):
		return p.actOnFinding(fs, mitigationIndex(msg.String()))
	}
	return nil
}

// mitigationKey: m or 1..9, matched by name so that a disabled binding
// (read-only) still reaches the refusal.
func mitigationKey(k string) bool { return k == "m" || (len(k) == 1 && k[0] >= '1' && k[0] <= '9') }

// mitigationIndex maps m to the first suggested action and 1..9 to the nth.
func mitigationIndex(k string) int {
	if len(k) == 1 && k[0] >= '1' && k[0] <= '9' {
		return int(k[0] - '1')
	}
	return 0
}

// actOnFinding opens the preview of the selected finding's mitigation i.
func (p *findingsView) actOnFinding(fs []analysis.Finding, i int) tea.Cmd {
	if len(fs) == 0 {
		p.c.notify("No finding to act on.")
		return nil
	}
	f := fs[p.sel]
	switch {
	case len(f.Mitigations) == 0:
		p.c.notify(fmt.Sprintf("%q suggests no action slotwatch can take; its fix is for the application.", oneLine(f.Title)))
		return nil
	case i >= len(f.Mitigations):
		p.c.notify(fmt.Sprintf("This finding suggests %d action(s): press m or 1..%d.", len(f.Mitigations), len(f.Mitigations)))
		return nil
	case p.c.actionsDisabled():
		return p.c.refuseAction(f.Mitigations[i].Label)
	}
	mit := f.Mitigations[i]
	if mit.Server == "" { // the finding's server is its mitigations'
		mit.Server = f.Server
	}
	return p.c.askMitigation(mit)
}

// askMitigation turns a suggested action into the usual preview; the
// confirm dialog opens when the preview arrives and nothing runs without y.
func (c *common) askMitigation(mit analysis.Mitigation) tea.Cmd {
	label := oneLine(mit.Label)
	switch mit.Kind {
	case analysis.TerminateSessions:
		req, narrow, ok := c.mitigationSessions(mit)
		if !ok {
			c.notify("This suggestion names no sessions (no pid, application, user, database or client): act from the sessions table.")
			return nil
		}
		c.notify("Previewing " + label + "…")
		return c.previewCmd(req, keepBackends(narrow), nil)
	case analysis.SetPGGuard, analysis.SetRedisTimeout:
		req := actions.GuardRequest{Server: mit.Server, Setting: mit.Setting, Role: mit.Role, Value: mit.Value}
		if mit.Kind == analysis.SetRedisTimeout {
			req.Setting, req.Role = actions.GuardRedisTimeout, ""
		}
		c.notify("Previewing " + label + "…")
		return c.previewCmd(req, nil, nil)
	case analysis.KillRedisClients:
		f, narrow, ok := mitigationRedis(mit)
		if !ok {
			c.notify("This suggestion names no Redis clients (no host, name or library): act from the Redis pane.")
			return nil
		}
		c.notify("Previewing " + label + "…")
		return c.previewCmd(f, keepClients(narrow), nil)
	}
	c.notify(fmt.Sprintf("Unknown kind of suggested action %q: this version of slotwatch cannot run it.", oneLine(string(mit.Kind))))
	return nil
}

// mitigationSessions is the terminate request of a sessions mitigation.
// Text scope values are exact (quoted as globs); pids are narrowed to the
// backends on screen, so a pid reused since the snapshot is left out.
func (c *common) mitigationSessions(mit analysis.Mitigation) (actions.SessionRequest, func(actions.Backend) bool, bool) {
	f := actions.SessionFilter{PIDs: slices.Clone(mit.PIDs), States: slices.Clone(mit.States), IdleOver: mit.IdleOver,
		App: globExact(mit.App), User: globExact(mit.User), DB: globExact(mit.DB), Client: globExact(mit.Client)}
	if len(f.PIDs) == 0 && f.App == "" && f.User == "" && f.DB == "" && f.Client == "" {
		return actions.SessionRequest{}, nil, false
	}
	req := actions.SessionRequest{Server: mit.Server, Kind: actions.Terminate, Filter: f}
	if len(f.PIDs) == 0 {
		return req, nil, true
	}
	starts := make(map[int32]time.Time, len(f.PIDs))
	for _, pid := range f.PIDs {
		starts[pid] = time.Time{}
	}
	sessions := c.sessionsOf(mit.Server)
	for i := range sessions {
		s := &sessions[i]
		if _, ok := starts[s.PID]; ok {
			starts[s.PID] = s.BackendStart
		}
	}
	narrow := func(b actions.Backend) bool {
		start, ok := starts[b.PID]
		return ok && (start.IsZero() || b.BackendStart.IsZero() || start.Equal(b.BackendStart))
	}
	return req, narrow, true
}

// mitigationRedis is the CLIENT KILL filter of a Redis mitigation. Host
// and library are exact; the name is the group's folded-name glob. A name
// with '#' is a folded name (digit runs), matched as the group is; an empty
// name is a group of unnamed clients, so named clients of the same host
// are left out (the dialog says how many).
func mitigationRedis(mit analysis.Mitigation) (actions.RedisFilter, func(collectors.RedisClient) bool, bool) {
	if mit.RedisHost == "" && mit.RedisName == "" && mit.RedisLib == "" {
		return actions.RedisFilter{}, nil, false
	}
	f := actions.RedisFilter{Server: mit.Server, Host: globExact(mit.RedisHost), Lib: globExact(mit.RedisLib),
		Name: mit.RedisName, IdleOver: mit.IdleOver}
	if mit.RedisName == "" {
		return f, func(c collectors.RedisClient) bool { return c.Name == "" }, true
	}
	if !strings.Contains(mit.RedisName, "#") {
		return f, nil, true
	}
	f.Name = strings.ReplaceAll(globExact(mit.RedisName), "#", "*")
	folded := mit.RedisName
	return f, func(c collectors.RedisClient) bool { return collectors.FoldName(c.Name) == folded }, true
}

// sessionsOf are the sessions of the named PostgreSQL server as last
// sampled: the pids a mitigation names are that server's backends.
func (c *common) sessionsOf(server string) []collectors.Session {
	if server == "" || server == c.pgTarget() {
		return c.shownSessions()
	}
	if pg := c.fleet.pgStats(server); pg != nil {
		return pg.Sessions
	}
	return nil
}

// findingsPage is how far PgDn moves: one line less than the room, since
// the last line shown is the "… more lines" note, so the line it covers
// is the first of the next page instead of never shown.
func (p *findingsView) findingsPage() int { return max(p.height-2, 1) }

// findingsDoc is every finding as lines, with where each one starts.
func (p *findingsView) findingsDoc(fs []analysis.Finding, w int) (lines []string, starts []int) {
	starts = make([]int, len(fs))
	for i := range fs {
		starts[i] = len(lines)
		lines = append(lines, p.findingLinesFor(&fs[i], i == p.sel, w)...)
		lines = append(lines, "")
	}
	if len(fs) == 0 {
		lines = append(lines, p.noFindingsText(), "")
	}
	return append(lines, p.externalAlertLines(w)...), starts
}

// findingsScroll is the first line shown: the selected finding's title,
// moved by what the engineer scrolled, within the document.
func (p *findingsView) findingsScroll(lines []string, starts []int, room int) int {
	top := p.within
	if p.sel < len(starts) {
		top += starts[p.sel]
	}
	return max(0, min(top, len(lines)-room))
}

// scrollFindings moves the view by delta lines, kept within the document.
func (p *findingsView) scrollFindings(fs []analysis.Finding, delta int) {
	lines, starts := p.findingsDoc(fs, p.width)
	room := p.height - 1
	p.within += delta
	top := p.findingsScroll(lines, starts, room)
	if p.sel < len(starts) {
		p.within = top - starts[p.sel]
	}
}

// findingsBody renders the findings from the scroll position; a last line
// says how much more there is.
func (p *findingsView) findingsBody(w, h int) block {
	if h <= 0 {
		return nil
	}
	fs := p.findingsList()
	title := fmt.Sprintf("Findings %d", len(fs))
	if len(fs) > 0 {
		title += fmt.Sprintf(" · %d of %d", p.sel+1, len(fs))
	}
	if n := p.c.fleet.othersFindings; n > 0 {
		title += fmt.Sprintf(" · %d more on servers not shown (1-9 or S on the dashboard)", n)
	}
	title += " · ↑/↓ finding · m or 1-9 act · Esc back"
	lines, starts := p.findingsDoc(fs, w)
	room := h - 1
	top := p.findingsScroll(lines, starts, room)
	shown := lines[top:min(len(lines), top+room)]
	if more := len(lines) - top - len(shown); more > 0 && len(shown) > 0 {
		shown = append(slices.Clone(shown[:len(shown)-1]), p.c.st.dim.Render(fmt.Sprintf("  … %d more lines (PgDn)", more+1)))
	}
	return fitBlock(append([]string{p.c.st.focused.Render("▌" + title)}, shown...), w, h)
}

func (p *findingsView) noFindingsText() string {
	return p.c.st.dim.Render("  No finding: no likely root cause has evidence in the current data.")
}

// findingLinesFor renders one finding: severity and title, then labelled
// fields whose values wrap under a hanging indent.
func (p *findingsView) findingLinesFor(f *analysis.Finding, selected bool, w int) []string {
	sev := fmt.Sprintf("%-8s", strings.ToUpper(oneLine(f.Severity)))
	switch f.Severity {
	case "critical":
		sev = p.c.st.critical.Render(sev)
	case "warning":
		sev = p.c.st.warning.Render(sev)
	}
	cursor := " "
	if selected {
		cursor = ">"
	}
	plainSev := fmt.Sprintf("%-8s", strings.ToUpper(oneLine(f.Severity)))
	head := fmt.Sprintf("%s %s %s", cursor, sev, p.c.st.bold.Render(oneLine(f.Title)))
	if !f.Cleared.IsZero() {
		plainSev = clearedMark(f.Cleared)
		head = p.c.st.dim.Render(fmt.Sprintf("%s %s %s", cursor, plainSev, oneLine(f.Title)))
	}
	if selected {
		head = p.c.st.selected.Render(fitLine(fmt.Sprintf("%s %s %s", cursor, plainSev, oneLine(f.Title)), w))
	}
	lines := []string{head}
	const indent = 13
	vw := max(w-indent, 10)
	field := func(label string, values []string, bullet bool) {
		for i, val := range values {
			// A bullet's text wraps two cells narrower, so its hanging
			// indent under the bullet never pushes a word past the edge.
			first, rest, tw := "", "", vw
			if bullet {
				first, rest, tw = "• ", "  ", vw-2
			}
			for j, wl := range wrapText(oneLine(val), tw) {
				lab, lead := "", rest
				if i == 0 && j == 0 {
					lab = label
				}
				if j == 0 {
					lead = first
				}
				lines = append(lines, fmt.Sprintf("    %-8s %s%s", lab, lead, wl))
			}
		}
	}
	if f.About != "" {
		field("about", []string{f.About}, false)
	}
	field("since", []string{p.sinceText(f.Since)}, false)
	// What can be run comes before the long evidence, so its keys are on
	// screen at 80×24 without scrolling.
	field("act", p.mitigationTexts(f, selected), false)
	if len(f.Evidence) > 0 {
		field("evidence", f.Evidence, true)
	}
	if len(f.Fix) > 0 {
		field("fix", f.Fix, true)
	}
	return lines
}

// clearedMark replaces the severity of a finding whose evidence stopped
// holding, so it does not read like a live one while it is kept.
func clearedMark(at time.Time) string { return "✓ cleared " + at.UTC().Format("15:04") }

func (p *findingsView) sinceText(since time.Time) string {
	if since.IsZero() {
		return "this sample (first evaluation)"
	}
	return fmt.Sprintf("%s (%s)", since.UTC().Format("15:04:05"), durOf(p.c.frame.Snapshot.TakenAt.Sub(since)))
}

// mitigationTexts lists a finding's suggested actions with the key that
// opens each (on the selected finding only: the keys act on it).
func (p *findingsView) mitigationTexts(f *analysis.Finding, selected bool) []string {
	if len(f.Mitigations) == 0 {
		return []string{"nothing slotwatch can run: apply the fix in the application"}
	}
	out := make([]string, 0, len(f.Mitigations))
	for i, mit := range f.Mitigations {
		label := oneLine(mit.Label)
		if label == "" {
			label = string(mit.Kind)
		}
		switch {
		case !selected:
			out = append(out, "- "+label)
		case i == 0:
			out = append(out, "[m] "+label)
		case i < 9:
			out = append(out, fmt.Sprintf("[%d] %s", i+1, label))
		default:
			out = append(out, "- "+label)
		}
	}
	if selected && p.c.actionsDisabled() {
		out = append(out, p.c.disabledReason())
	}
	return out
}

// externalAlertLines lists the team's own alerts (Alertmanager/Prometheus,
// contract C8) after the findings, each marked EXTERNAL so it is not
// mistaken for slotwatch's rules; nothing when external alerting is not
// configured.
func (p *findingsView) externalAlertLines(w int) []string {
	st := p.c.status(collectors.SourceAlerting)
	if st.state == srcOff {
		return nil
	}
	al := p.c.frame.Snapshot.Alerting
	n := 0
	if al != nil {
		n = len(al.Alerts)
	}
	lines := []string{p.c.st.heading.Render(fmt.Sprintf("External alerts (%d) · the team's Alertmanager/Prometheus", n))}
	if st.blind() {
		what := "STALE " + ageText(st.age)
		if st.state == srcDown {
			what = "DOWN"
		}
		text := fmt.Sprintf("external alerting %s: %s", what, orDash(oneLine(st.err)))
		if al != nil {
			text += " (the list below is its last answer)"
		}
		for _, l := range wrapText(text, max(w-4, 10)) {
			lines = append(lines, "  "+p.c.st.critical.Render(l))
		}
	}
	if al == nil {
		return append(lines, "")
	}
	if len(al.Alerts) == 0 {
		lines = append(lines, p.c.st.dim.Render("  none firing or pending"))
	}
	for _, a := range al.Alerts {
		state := strings.ToUpper(oneLine(a.State))
		if a.State == collectors.ExternalFiring {
			state = p.c.st.critical.Render(state)
		} else {
			state = p.c.st.warning.Render(state)
		}
		head := fmt.Sprintf("  EXTERNAL %s %s%s", state, oneLine(a.Name), p.c.since(a.Since))
		var meta []string
		if a.Severity != "" {
			meta = append(meta, "severity "+oneLine(a.Severity))
		}
		if a.Source != "" {
			meta = append(meta, "from "+oneLine(a.Source))
		}
		if len(meta) > 0 {
			head += " [" + strings.Join(meta, ", ") + "]"
		}
		lines = append(lines, head)
		if a.Summary != "" {
			for _, l := range wrapText(oneLine(a.Summary), max(w-13, 10)) {
				lines = append(lines, "             "+l)
			}
		}
	}
	return append(lines, "")
}

// markFindingCursor shows the cursor on the header's finding lines when
// they have focus (Tab), so Enter visibly opens that finding.
func (p *findingsView) markFindingCursor(lines []string) []string {
	if p.c.focus != focusFindings || p.c.mode != modeNormal || len(p.c.frame.Findings) == 0 {
		return lines
	}
	sel := p.findingLineSel(len(lines))
	out := slices.Clone(lines)
	out[sel] = p.c.st.selected.Render("> " + ansi.Strip(lines[sel]))
	return out
}

// findingLineSel is the finding under the header's cursor: the one chosen
// (here or in the findings view), kept within the shown lines, so the line
// marked is the one Enter opens and ↑/↓ always move a visible cursor.
func (p *findingsView) findingLineSel(shown int) int {
	p.findingsList() // re-resolves the chosen finding after a refresh
	return max(0, min(p.sel, shown-1))
}

// onFindingLineKey moves over the header's finding lines; Enter opens the
// findings view on the one under the cursor.
func (p *findingsView) onFindingLineKey(msg tea.KeyMsg) tea.Cmd {
	fs := p.findingsList()
	shown := min(len(fs), p.headerLines)
	sel := p.findingLineSel(shown)
	switch {
	case key.Matches(msg, p.c.nav.Up):
		p.selectFinding(fs, sel-1)
	case key.Matches(msg, p.c.nav.Down):
		p.selectFinding(fs, min(sel+1, max(shown-1, 0)))
	case key.Matches(msg, p.enter):
		p.c.send(openFindingsAt{sel: sel})
	}
	return nil
}

func (p *findingsView) SetSize(w, h int) { p.width, p.height = w, h }

// Update handles the findings view's keys, or, on the dashboard, the keys
// of the header's finding lines when they have focus.
func (p *findingsView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.c.mode == modeFindings {
		return p.onFindingsKey(km)
	}
	return p.onFindingLineKey(km)
}

func (p *findingsView) ShortHelp() []key.Binding {
	if p.c.mode != modeFindings {
		return []key.Binding{p.enter, p.c.nav.Down}
	}
	return []key.Binding{p.keys.Act, p.c.nav.Down, p.c.nav.PageDown, p.keys.Back, p.c.global.Help, p.c.global.Quit}
}

// FullHelp is the short help; the header's finding lines have no keys
// after the global ones.
func (p *findingsView) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp(), nil} }

func (p *findingsView) helpGroups() []helpGroup {
	return []helpGroup{{"Findings (f, or enter on a finding line)", []key.Binding{
		bind([]string{"up", "down"}, "↑/↓", "previous/next finding"), bind([]string{"pgup", "pgdown"}, "pgup/pgdn", "scroll"),
		p.keys.Act, p.keys.Back}}}
}

// View is the full-screen findings list in the rectangle SetSize gave.
func (p *findingsView) View() string { return p.findingsBody(p.width, p.height).String() }

// openFindingsAt opens the findings view on the finding at sel.
type openFindingsAt struct{ sel int }

func (p *findingsView) findingLines(n int) []string {
	fs := sortFindings(p.c.frame.Findings)
	others := p.c.fleet.othersFindings
	if len(fs) == 0 {
		if others > 0 {
			return []string{p.c.st.dim.Render(fmt.Sprintf("Findings: none on the servers shown; %d on other servers (1-9 or S switches)", others))}
		}
		return []string{p.c.st.dim.Render("Findings: none yet")}
	}
	var lines []string
	for i, f := range fs {
		if i == n {
			break
		}
		sev := strings.ToUpper(oneLine(f.Severity))
		if f.Severity == "critical" {
			sev = p.c.st.critical.Render(sev)
		}
		line := fmt.Sprintf("FINDING %s %s", sev, oneLine(f.Title))
		if !f.Cleared.IsZero() {
			line = p.c.st.dim.Render(clearedMark(f.Cleared) + " " + oneLine(f.Title))
		}
		if f.About != "" {
			line += " — " + oneLine(f.About)
		}
		if i == n-1 && len(fs) > n {
			line += fmt.Sprintf("  (+%d more, f lists all)", len(fs)-n)
		}
		if i == min(n, len(fs))-1 && others > 0 {
			line += fmt.Sprintf("  (%d on other servers)", others)
		}
		lines = append(lines, line)
	}
	return p.markFindingCursor(lines)
}
