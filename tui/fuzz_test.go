package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// FuzzServerText feeds arbitrary server-provided text (application names,
// queries, addresses, errors, alert summaries) into every pane: the screen
// must keep its exact size and carry no escape sequence from the data.
func FuzzServerText(f *testing.F) {
	f.Add("talentflow-web", "SELECT 1", "10.0.1.11", "connection refused", "idle")
	f.Add("\x1b[2J\x1b]0;pwned\x07", "line1\nline2\ttab\r", "\x00\xff\xfe", "é漢字\u200d👩‍👩‍👧", "")
	f.Add(strings.Repeat("w", 500), strings.Repeat("漢", 300), "::1", "\n\n\n", "idle in transaction (aborted)")
	base := incidentFrame(f)
	f.Fuzz(func(t *testing.T, app, query, addr, errText, state string) {
		frame := base
		pg := *base.Snapshot.Postgres
		pg.Sessions = append([]collectors.Session(nil), pg.Sessions...)
		pg.Sessions[0].ApplicationName, pg.Sessions[0].Query, pg.Sessions[0].ClientAddr, pg.Sessions[0].State = app, query, addr, state
		pg.Sessions[0].WaitEvent = errText
		pg.Groups = append([]collectors.SessionGroup{{ApplicationName: app, ClientAddr: addr, Total: 200}}, pg.Groups...)
		frame.Snapshot.Postgres = &pg
		r := *base.Snapshot.Redis
		r.Groups = append([]collectors.RedisGroup{{Host: addr, Name: app, LibName: query, Count: 999}}, r.Groups...)
		frame.Snapshot.Redis = &r
		frame.Snapshot.Errors = map[string]string{"redis": errText}
		frame.Alerts = append([]analysis.Alert{{Name: app, State: analysis.Firing, Summary: errText}}, base.Alerts...)
		frame.Findings = []analysis.Finding{{Severity: state, Title: query, About: app}}
		for _, keys := range [][]string{nil, {"enter"}, {"tab", "tab", "l"}} {
			m := newTestModel(t, Options{Title: app}, frame, 80, 24)
			for _, k := range keys {
				m = update(m, keyMsg(k))
			}
			view := m.View()
			lines := strings.Split(view, "\n")
			if len(lines) != 24 {
				t.Fatalf("%d lines", len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != 80 {
					t.Fatalf("line %d is %d wide: %q", i, w, l)
				}
				if strings.ContainsAny(l, "\x1b\x07\x00\r") {
					t.Fatalf("line %d carries a control character from the data: %q", i, l)
				}
			}
		}
	})
}
