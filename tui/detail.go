package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/slotwatch/slotwatch/collectors"
)

// detailView follows one backend across refreshes by its key.
type detailView struct {
	key     collectors.SessionKey
	session collectors.Session // last seen, kept when the backend ends
	scroll  int
	// server is the PostgreSQL server the session is on (actions' name;
	// "" for a single target): C and K act there even if the fleet falls
	// back to another server while the detail is open.
	server string
}

// detailLines renders the full query, every timing, who blocks this session
// and whom it blocks.
func (m *Model) detailLines(w int) []string {
	d := &m.detail
	s, alive := d.session, false
	for i := range m.sessions.all {
		if m.sessions.all[i].Key() == d.key {
			s, alive = m.sessions.all[i], true
			break
		}
	}
	title := fmt.Sprintf("Session %d (Esc back · C cancel · K terminate)", s.PID)
	if m.actionsDisabled() {
		title = fmt.Sprintf("Session %d (Esc back; %s)", s.PID, m.disabledReason())
	}
	if !alive {
		title += "  " + m.st.critical.Render("ENDED: no longer in pg_stat_activity")
	}
	lines := []string{m.st.focused.Render("▌" + title)}
	field := func(k, v string) { lines = append(lines, fmt.Sprintf("  %-18s %s", k, v)) }
	field("pid", strconv.Itoa(int(s.PID)))
	field("backend start", s.BackendStart.UTC().Format("2006-01-02 15:04:05Z"))
	field("user / database", orDash(s.Usename)+" / "+orDash(s.Datname))
	field("application", orDash(s.ApplicationName))
	field("client", orDash(s.ClientAddr))
	if via := m.viaPool(s.PID); via != "" {
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
	lines = append(lines, "", m.st.heading.Render("Query"))
	for _, l := range strings.Split(s.Query, "\n") {
		for _, wl := range wrapText(clean(l), max(w-4, 10)) {
			lines = append(lines, "  "+wl)
		}
	}
	lines = append(lines, "", m.st.heading.Render(fmt.Sprintf("Blocked by (%d)", len(s.BlockedBy))))
	for _, pid := range s.BlockedBy {
		lines = append(lines, "  "+m.sessionSummary(pid))
	}
	var blocks []string
	for i := range m.sessions.all {
		o := &m.sessions.all[i]
		for _, b := range o.BlockedBy {
			if b == s.PID {
				blocks = append(blocks, "  "+summaryOf(o))
			}
		}
	}
	lines = append(lines, "", m.st.heading.Render(fmt.Sprintf("Blocks (%d)", len(blocks))))
	return append(lines, blocks...)
}

func (m *Model) sessionSummary(pid int32) string {
	for i := range m.sessions.all {
		if m.sessions.all[i].PID == pid {
			return summaryOf(&m.sessions.all[i])
		}
	}
	return fmt.Sprintf("%d (not a client backend in view)", pid)
}

func summaryOf(s *collectors.Session) string {
	return fmt.Sprintf("%d %s %s %s for %s: %s", s.PID, orDash(s.ApplicationName), orDash(s.ClientAddr), stateLabel(s),
		dur(s.StateSeconds), oneLine(clip(s.Query, 1024)))
}

func (m *Model) detailBlock(w, h int) block {
	lines := m.detailLines(w)
	off := min(m.detail.scroll, max(len(lines)-h, 0))
	return fitBlock(lines[off:], w, h)
}
