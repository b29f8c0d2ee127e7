package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
)

func servedOpts(v *Viewer) Options {
	return Options{Mitigator: &fakeMitigator{}, Viewer: v,
		Presence: func() []string { return []string{"kim (operator)", "marcus", "sarah"} }}
}

// TestPresenceInHeader: who is watching, cut to the width with the count
// kept, and the clock never pushed off the title line.
func TestPresenceInHeader(t *testing.T) {
	m := newTestModel(t, servedOpts(&Viewer{Name: "kim", Operator: true}), incidentFrame(t), 120, 40)
	title := strings.Split(m.View(), "\n")[0]
	if !strings.Contains(title, "3 watching: kim (operator), marcus, sarah") || !strings.Contains(title, "15:46:00Z") {
		t.Fatalf("120 columns should show everyone and the clock: %q", title)
	}
	m = newTestModel(t, servedOpts(&Viewer{Name: "kim", Operator: true}), incidentFrame(t), 80, 24)
	v := m.View()
	checkScreen(t, v, 80, 24)
	title = strings.Split(v, "\n")[0]
	if !strings.Contains(title, "3 watching: kim (operator), marcus +1") || !strings.Contains(title, "15:46:00Z") {
		t.Fatalf("80 columns should cut names, keep the count and the clock: %q", title)
	}
}

func TestPresenceText(t *testing.T) {
	names := []string{"kim (operator)", "marcus", "sarah\x1b[2J"}
	for _, c := range []struct {
		w    int
		want string
	}{{100, "3 watching: kim (operator), marcus, sarah?[2J"}, {40, "3 watching: kim (operator), marcus +1"},
		{30, "3 watching: kim (operator) +2"}, {12, "3 watching"}, {5, ""}} {
		if got := presenceText(names, c.w); got != c.want {
			t.Errorf("presenceText(w=%d) = %q, want %q", c.w, got, c.want)
		}
	}
	if got := presenceText(nil, 80); got != "" {
		t.Errorf("nobody watching should show nothing, got %q", got)
	}
}

// TestViewerBanner: a viewer who is not an operator is told so on screen;
// an operator is not.
func TestViewerBanner(t *testing.T) {
	v := newTestModel(t, servedOpts(&Viewer{Name: "marcus"}), incidentFrame(t), 80, 24).View()
	if !strings.Contains(v, "VIEWER · read-only") {
		t.Fatalf("a read-only viewer should see the banner:\n%s", v)
	}
	v = newTestModel(t, servedOpts(&Viewer{Name: "kim", Operator: true}), incidentFrame(t), 80, 24).View()
	if strings.Contains(v, "VIEWER") || strings.Contains(v, "read-only") {
		t.Fatalf("an operator should not see the viewer banner:\n%s", v)
	}
}

// TestAnnouncementShowsForAWhile: another session's action shows in the
// footer, then gives way to the usual status line.
func TestAnnouncementShowsForAWhile(t *testing.T) {
	now := fixedNow
	opts := servedOpts(&Viewer{Name: "marcus"})
	opts.Now = func() time.Time { return now }
	m := newTestModel(t, opts, incidentFrame(t), 80, 24)
	m = update(m, AnnounceMsg{Text: "kim terminated 22 sessions of talentflow-web"})
	if v := m.View(); !strings.Contains(v, "ANNOUNCE 15:46:00 kim terminated 22 sessions of talentflow-web") {
		t.Fatalf("the announcement should be in the footer:\n%s", v)
	}
	now = now.Add(20 * time.Second)
	m = update(m, tickMsg(now))
	if v := m.View(); !strings.Contains(v, "kim terminated 22 sessions") {
		t.Fatalf("20 s later the announcement should still show:\n%s", v)
	}
	now = now.Add(15 * time.Second)
	m = update(m, tickMsg(now))
	if v := m.View(); strings.Contains(v, "kim terminated") {
		t.Fatalf("35 s later the announcement should be gone:\n%s", v)
	}
}

// TestGoldenServed pins a read-only viewer's screen with presence and an
// announcement at the minimum size and on a war-room screen.
func TestGoldenServed(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, servedOpts(&Viewer{Name: "marcus"}), incidentFrame(t), size[0], size[1])
			m = update(m, AnnounceMsg{Text: "kim terminated 22 sessions of talentflow-web"})
			v := m.View()
			checkScreen(t, v, size[0], size[1])
			golden.RequireEqual(t, []byte(v))
		})
	}
}
