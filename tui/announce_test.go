package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// announcedModel hears three announcements 20 s apart at w×h: the first
// has expired (over 30 s old), the other two are shown.
func announcedModel(t *testing.T, w, h int) (Model, []string) {
	t.Helper()
	clock := fixedNow
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}, Now: func() time.Time { return clock }}, findingsFrame(t), w, h)
	texts := []string{
		"sarah set idle_session_timeout to 5min for role talentflow (done)",
		"kim terminated 17 sessions of talentflow-web, user talentflow, db talentflow (idle > 10m) on primary; 2 already gone",
		"marcus: 17 already terminated by kim",
	}
	for _, text := range texts {
		m = update(m, AnnounceMsg{Text: text})
		clock = clock.Add(20 * time.Second)
	}
	clock = clock.Add(-15 * time.Second) // 5 s after the last one
	m = update(m, tickMsg{})
	return m, texts
}

// TestAnnouncementsQueueAndWrap: two operators acting at once are both
// heard, newest first, each whole (wrapped, not cut), and an announcement
// older than 30 s is gone.
func TestAnnouncementsQueueAndWrap(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		m, texts := announcedModel(t, size[0], size[1])
		v := ansi.Strip(m.View())
		checkScreen(t, m.View(), size[0], size[1])
		if strings.Contains(v, "sarah set") {
			t.Fatalf("%v: the announcement from 40 s ago is still shown:\n%s", size, v)
		}
		newest, older := strings.Index(v, "marcus: 17 already"), strings.Index(v, "kim terminated 17")
		if newest < 0 || older < 0 || newest > older {
			t.Fatalf("%v: both announcements should show, newest first:\n%s", size, v)
		}
		words := strings.Fields(v)
		for _, text := range texts[1:] {
			for _, word := range strings.Fields(text) {
				if !hasWord(words, word) {
					t.Fatalf("%v: word %q of %q is cut:\n%s", size, word, text, v)
				}
			}
		}
	}
	m, _ := announcedModel(t, 80, 24)
	golden.RequireEqual(t, []byte(m.View()))
}
