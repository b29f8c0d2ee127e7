package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"
)

// findingLinesFlow runs the dashboard at w×h on the four-finding frame with
// the last finding chosen in the findings view, then Tabs to the header's
// finding lines.
func findingLinesFlow(t *testing.T, w, h int) *teatest.TestModel {
	t.Helper()
	opts := Options{Mitigator: &fakeMitigator{}, Now: func() time.Time { return fixedNow }}
	tm := teatest.NewTestModel(t, New(context.Background(), opts, asciiRenderer()), teatest.WithInitialTermSize(w, h))
	tm.Send(frameMsg{frame: findingsFrame(t)})
	waitFor(t, tm, "Sessions 92")
	tm.Send(keyMsg("f"))
	tm.Send(keyMsg("end"))
	waitFor(t, tm, "4 of 4")
	tm.Send(keyMsg("esc"))
	for range 3 {
		tm.Send(keyMsg("tab"))
	}
	return tm
}

// TestFlowFindingLineCursorOpensItsFinding: at 110×34 two finding lines
// show; with the fourth finding chosen in the view the cursor is on the
// last line shown, Enter opens that one, and ↑ visibly moves to the first.
func TestFlowFindingLineCursorOpensItsFinding(t *testing.T) {
	tm := findingLinesFlow(t, 110, 34)
	waitFor(t, tm, "> FINDING CRITICAL Idle-in-transaction")
	tm.Send(keyMsg("enter"))
	waitFor(t, tm, "2 of 4", "> CRITICAL Idle-in-transaction")
	tm.Send(keyMsg("esc"))
	tm.Send(keyMsg("up"))
	waitFor(t, tm, "> FINDING CRITICAL Persistent connections")
	tm.Send(keyMsg("enter"))
	waitFor(t, tm, "1 of 4", "> CRITICAL Persistent connections")
	m := finish(t, tm)
	if m.findings.sel != 0 {
		t.Fatalf("the findings view should be on the first finding, is on %d", m.findings.sel)
	}
}

// TestFlowFindingLineCursorAt80x24: one finding line shows; the cursor is
// on it, ↓ has nowhere to go, and Enter opens that finding, not the one
// last chosen in the view.
func TestFlowFindingLineCursorAt80x24(t *testing.T) {
	tm := findingLinesFlow(t, 80, 24)
	tm.Send(keyMsg("down"))
	waitFor(t, tm, "> FINDING CRITICAL Persistent")
	tm.Send(keyMsg("enter"))
	waitFor(t, tm, "1 of 4", "> CRITICAL Persistent connections")
	m := finish(t, tm)
	if m.findings.sel != 0 {
		t.Fatalf("enter should have opened the first finding, the view is on %d", m.findings.sel)
	}
}

// TestClearedFindingLooksCleared: a cleared finding reads "✓ cleared HH:MM"
// on the header line and in the findings view, never like a live INFO one.
func TestClearedFindingLooksCleared(t *testing.T) {
	f := findingsFrame(t)
	for i := range f.Findings {
		f.Findings[i].Cleared = f.Snapshot.TakenAt.Add(-2 * time.Minute)
		f.Findings[i].Severity = "info"
	}
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, f, 120, 40)
	want := "✓ cleared " + f.Findings[0].Cleared.UTC().Format("15:04")
	if v := m.View(); !strings.Contains(v, want) || strings.Contains(v, "FINDING INFO") {
		t.Fatalf("the header should mark the finding %q:\n%s", want, v)
	}
	m = update(m, keyMsg("f"))
	if v := m.View(); !strings.Contains(v, "> "+want) || strings.Contains(v, "INFO ") {
		t.Fatalf("the findings view should mark the finding %q:\n%s", want, v)
	}
}
