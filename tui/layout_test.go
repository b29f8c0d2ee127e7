package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// checkScreen asserts the layout invariants: exactly h lines, each exactly
// w cells wide.
func checkScreen(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Fatalf("%dx%d: view has %d lines", w, h, len(lines))
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			t.Fatalf("%dx%d: line %d is %d cells wide: %q", w, h, i, got, l)
		}
	}
}

// TestLayoutGrid renders every mode over a grid of terminal sizes, from far
// below the minimum to a war-room screen.
func TestLayoutGrid(t *testing.T) {
	skipSweepUnderRace(t)
	frame := findingsFrame(t)
	mit := &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions}
	empty := analysis.Frame{Snapshot: collectors.Snapshot{TakenAt: fixedNow}}
	scenarios := map[string]func(m Model) Model{
		"normal": func(m Model) Model { return m },
		"detail": func(m Model) Model { return update(m, keyMsg("enter")) },
		"help":   func(m Model) Model { return update(m, keyMsg("?")) },
		"filter": func(m Model) Model { return update(update(m, keyMsg("/")), keyMsg("web")) },
		"confirm": func(m Model) Model {
			next, cmd := m.Update(keyMsg("K"))
			return update(next.(Model), cmd())
		},
		"redis-clients": func(m Model) Model {
			return update(update(update(m, keyMsg("tab")), keyMsg("tab")), keyMsg("l"))
		},
		"findings":      func(m Model) Model { return update(update(m, keyMsg("f")), keyMsg("down")) },
		"groups-client": func(m Model) Model { return update(update(m, keyMsg("tab")), keyMsg("c")) },
		"findings-confirm": func(m Model) Model {
			next, cmd := update(m, keyMsg("f")).Update(keyMsg("m"))
			if cmd == nil {
				return next.(Model)
			}
			return update(next.(Model), cmd())
		},
		"help-page-2": func(m Model) Model { return update(update(m, keyMsg("?")), keyMsg("right")) },
	}
	for w := 20; w <= 240; w += 11 {
		for h := 5; h <= 70; h += 5 {
			for name, apply := range scenarios {
				m := apply(newTestModel(t, Options{Mitigator: mit}, frame, w, h))
				t.Run(fmt.Sprintf("%s/%dx%d", name, w, h), func(t *testing.T) { checkScreen(t, m.View(), w, h) })
			}
			m := newTestModel(t, Options{}, empty, w, h)
			checkScreen(t, m.View(), w, h)
		}
	}
}

// TestLayoutGridBlindAndServed: the screens that say what slotwatch cannot
// see, and a served viewer's header with presence and an announcement,
// keep the same invariants over the grid, with server text that is long,
// wide (CJK) or hostile.
func TestLayoutGridBlindAndServed(t *testing.T) {
	skipSweepUnderRace(t)
	long := strings.Repeat("a very long error from a server ", 12) + "漢字\x1b[2J"
	down := downSnapshots()
	for i := range down {
		down[i].Errors[collectors.SourcePostgres] = long
	}
	frames := map[string][]analysis.Frame{
		"down":     pipelineFrames(down),
		"stale":    pipelineFrames(staleSnapshots(t)),
		"blind":    pipelineFrames(blindSnapshots(t)),
		"external": {externalFrame(t)},
	}
	names := []string{"kim (operator)", "漢字漢字漢字", strings.Repeat("marcus", 20), "sarah\x1b[31m"}
	served := Options{Mitigator: &fakeMitigator{}, Viewer: &Viewer{Name: "marcus"}, Presence: func() []string { return names }}
	for w := 20; w <= 240; w += 11 {
		for h := 5; h <= 70; h += 5 {
			for name, fs := range frames {
				m := showFrames(t, Options{}, fs, w, h)
				t.Run(fmt.Sprintf("%s/%dx%d", name, w, h), func(t *testing.T) { checkScreen(t, m.View(), w, h) })
			}
			m := update(newTestModel(t, served, incidentFrame(t), w, h), AnnounceMsg{Text: long})
			t.Run(fmt.Sprintf("served/%dx%d", w, h), func(t *testing.T) {
				v := m.View()
				checkScreen(t, v, w, h)
				if strings.Contains(v, "\x1b") { // Ascii profile: any escape came from server text
					t.Fatalf("an escape sequence reached the screen: %q", v)
				}
			})
		}
	}
}

func TestTooSmallSaysSo(t *testing.T) {
	m := newTestModel(t, Options{}, incidentFrame(t), 79, 24)
	if v := m.View(); !strings.Contains(v, "Terminal too small") {
		t.Fatalf("79x24 should explain the minimum size, got:\n%s", v)
	}
	m = newTestModel(t, Options{}, incidentFrame(t), 80, 24)
	if v := m.View(); strings.Contains(v, "too small") || !strings.Contains(v, "92/97 used") {
		t.Fatalf("80x24 should show the dashboard, got:\n%s", v)
	}
}

func TestClipKeepsCharacters(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"SELECT", 10, "SELECT"}, {"SELECT", 3, "SEL"}, {"漢字", 4, "漢"}, {"漢字", 2, ""}, {"a漢", 3, "a"}} {
		if got := clip(c.in, c.n); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
