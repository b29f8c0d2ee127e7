package tui

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/collectors"
)

// TestWhatMustStayOnScreen: at every size from 80×24 up, the over-capacity
// job, the last action, every word of the probe's refusal reason and the
// distinguishing end of each application's name are on the screen.
func TestWhatMustStayOnScreen(t *testing.T) {
	frame := incidentFrame(t)
	reason := frame.Snapshot.Probe.Reason
	if reason == "" {
		reason = "remaining connection slots are reserved for non-replication superuser connections"
		pr := *frame.Snapshot.Probe
		pr.Reason = reason
		frame.Snapshot.Probe = &pr
	}
	for _, size := range [][2]int{{80, 24}, {90, 30}, {110, 34}, {120, 40}, {160, 45}, {200, 50}} {
		w, h := size[0], size[1]
		m := newTestModel(t, Options{}, frame, w, h)
		m = update(m, auditMsg{entries: []auditLine{{at: "15:45:58", text: "terminate result: 23 done"}}})
		v := ansi.Strip(m.View())
		checkScreen(t, m.View(), w, h)
		name := fmt.Sprintf("%dx%d", w, h)
		for _, want := range []string{"12345", "terminate result: 23 done", "-web", "probe 53300:"} {
			if !strings.Contains(v, want) {
				t.Errorf("%s: %q is not on the screen:\n%s", name, want, v)
			}
		}
		// A line may break after a hyphen ("non-" / "replication").
		flat := strings.ReplaceAll(strings.Join(strings.Fields(v), " "), "- ", "-")
		for _, word := range strings.Fields(reason) {
			if !strings.Contains(flat, word) {
				t.Errorf("%s: the probe's reason lost the word %q:\n%s", name, word, v)
			}
		}
	}
}

func TestMidCutKeepsBothEnds(t *testing.T) {
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"talentflow-web", 14, "talentflow-web"},
		{"talentflow-web", 9, "tale…-web"},
		{"analytics-report", 9, "anal…port"},
		{"abc", 2, "a…"},
	} {
		if got := strings.TrimRight(midCut(c.in, c.w), " "); got != c.want {
			t.Errorf("midCut(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
	for w := 0; w <= 20; w++ {
		if got := ansi.StringWidth(midCut("日本語のアプリケーション-web", w)); got != w {
			t.Errorf("midCut at width %d is %d cells wide", w, got)
		}
	}
}

// TestSparklineCoversTenMinutes: whatever its width, a sparkline spans the
// ten-minute trend window, keeps a one-sample spike and leaves a stretch
// without samples blank, never zero.
func TestSparklineCoversTenMinutes(t *testing.T) {
	end := fixedNow
	var trend []collectors.Point
	for s := 600; s >= 0; s-- {
		if s > 200 && s < 260 {
			continue // an outage of a minute
		}
		v := 10
		if s == 300 {
			v = 100 // a one-second spike five minutes ago
		}
		trend = append(trend, collectors.Point{At: end.Add(-time.Duration(s) * time.Second), PGUsed: v})
	}
	used := func(p *collectors.Point) (float64, bool) { return float64(p.PGUsed), true }
	for _, width := range []int{8, 16, 40} {
		series := sparkSeries(trend, width, used)
		if len(series) != width {
			t.Fatalf("width %d: %d cells, want the whole ten minutes in %d", width, len(series), width)
		}
		peak, gaps := 0.0, 0
		for _, v := range series {
			if math.IsNaN(v) {
				gaps++
				continue
			}
			peak = math.Max(peak, v)
		}
		if peak != 100 {
			t.Errorf("width %d: the spike was lost (peak %v)", width, peak)
		}
		if width == 40 && gaps == 0 {
			t.Errorf("width 40: a minute without samples is not blank: %v", series)
		}
		line := sparklineTo(series, width, 100)
		if !strings.ContainsRune(line, '█') {
			t.Errorf("width %d: the spike is not drawn full: %q", width, line)
		}
	}
}
