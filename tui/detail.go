package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// detailView follows one backend across refreshes by its key.
type detailView struct {
	c             *common
	keys          detailKeys
	act           sessionKeys // C and K act on the session shown
	width, height int
	key           collectors.SessionKey
	session       collectors.Session // last seen, kept when the backend ends
	scroll        int
	// server is the PostgreSQL server the session is on (actions' name;
	// "" for a single target): C and K act there even if the fleet falls
	// back to another server while the detail is open.
	server string
}

// detailLines renders the full query, every timing, who blocks this session
// and whom it blocks.
func (p *detailView) detailLines(w int) []string {
	d := p
	all := p.c.shownSessions()
	s, alive := d.session, false
	for i := range all {
		if all[i].Key() == d.key {
			s, alive = all[i], true
			break
		}
	}
	title := fmt.Sprintf("Session %d (Esc back · C cancel · K terminate)", s.PID)
	if p.c.actionsDisabled() {
		title = fmt.Sprintf("Session %d (Esc back; %s)", s.PID, p.c.disabledReason())
	}
	if !alive {
		title += "  " + p.c.st.critical.Render("ENDED: no longer in pg_stat_activity")
	}
	lines := []string{p.c.st.focused.Render("▌" + title)}
	field := func(k, v string) { lines = append(lines, fmt.Sprintf("  %-18s %s", k, v)) }
	field("pid", strconv.Itoa(int(s.PID)))
	field("backend start", s.BackendStart.UTC().Format("2006-01-02 15:04:05Z"))
	field("user / database", orDash(s.Usename)+" / "+orDash(s.Datname))
	field("application", orDash(s.ApplicationName))
	field("client", orDash(s.ClientAddr))
	if via := p.c.viaPool(s.PID); via != "" {
		field("pooler", via)
	}
	field("state", orDash(s.State))
	field("time in state", dur(s.StateSeconds))
	field("transaction age", dur(s.XactSeconds))
	field("query age", dur(s.QuerySeconds))
	wait := "-"
	if s.WaitEventType != "" {
		wait = oneLine(s.WaitEventType + ": " + s.WaitEvent)
	}
	field("wait event", wait)
	if s.Hidden {
		field("visibility", "insufficient privilege: the monitoring role cannot see this row fully")
	}
	lines = append(lines, "", p.c.st.heading.Render("Query"))
	for _, l := range strings.Split(s.Query, "\n") {
		for _, wl := range wrapText(clean(l), max(w-4, 10)) {
			lines = append(lines, "  "+wl)
		}
	}
	lines = append(lines, "", p.c.st.heading.Render(fmt.Sprintf("Blocked by (%d)", len(s.BlockedBy))))
	for _, pid := range s.BlockedBy {
		lines = append(lines, "  "+p.sessionSummary(pid))
	}
	var blocks []string
	for i := range all {
		o := &all[i]
		for _, b := range o.BlockedBy {
			if b == s.PID {
				blocks = append(blocks, "  "+summaryOf(o))
			}
		}
	}
	lines = append(lines, "", p.c.st.heading.Render(fmt.Sprintf("Blocks (%d)", len(blocks))))
	return append(lines, blocks...)
}

func (p *detailView) sessionSummary(pid int32) string {
	all := p.c.shownSessions()
	for i := range all {
		if all[i].PID == pid {
			return summaryOf(&all[i])
		}
	}
	return fmt.Sprintf("%d (not a client backend in view)", pid)
}

func summaryOf(s *collectors.Session) string {
	return fmt.Sprintf("%d %s %s %s for %s: %s", s.PID, orDash(s.ApplicationName), orDash(s.ClientAddr), stateLabel(s),
		dur(s.StateSeconds), oneLine(clip(s.Query, 1024)))
}

func (p *detailView) render() block {
	w, h := p.width, p.height
	lines := p.detailLines(w)
	off := min(p.scroll, max(len(lines)-h, 0))
	return fitBlock(lines[off:], w, h)
}

// open shows the session; server is where C and K act.
func (p *detailView) open(s collectors.Session, server string) {
	p.key, p.session, p.server, p.scroll = s.Key(), s, server, 0
}

func (p *detailView) SetSize(w, h int) { p.width, p.height = w, h }

// Update handles the detail's keys: back, scroll, and C or K on the
// session shown, on the server it is on.
func (p *detailView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, p.c.global.Quit):
		return tea.Quit
	case key.Matches(km, p.keys.Back):
		p.c.send(setModeMsg{mode: modeNormal})
	case p.c.actionsDisabled() && isActionKey(km.String()):
		return p.c.refuseAction(actionKeyName(km.String()))
	case key.Matches(km, p.act.Cancel):
		return p.c.askSessionsOn(p.server, kindCancel, []sessionTarget{p.session})
	case key.Matches(km, p.act.Terminate):
		return p.c.askSessionsOn(p.server, kindTerminate, []sessionTarget{p.session})
	case p.c.navigate(km, func(d int) { p.scroll = max(0, p.scroll+d) }, 10):
	}
	return nil
}

func (p *detailView) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Back, p.act.Cancel, p.act.Terminate, p.c.nav.Down, p.c.global.Quit}
}

func (p *detailView) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

func (p *detailView) View() string { return p.render().String() }
