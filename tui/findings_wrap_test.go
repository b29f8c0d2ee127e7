package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/recording"
)

// shippedFindingFrames are the frames of the drill recording and of the
// warmed demo whose findings differ, so every finding either ever shows
// (with its evidence at that moment) is rendered once.
func shippedFindingFrames(t *testing.T) []analysis.Frame {
	t.Helper()
	var frames []analysis.Frame
	seen := map[string]bool{}
	keep := func(f analysis.Frame) {
		var b strings.Builder
		for _, x := range f.Findings {
			b.WriteString(x.ID + x.About + x.Title + strings.Join(x.Evidence, "\n") + strings.Join(x.Fix, "\n"))
		}
		if k := b.String(); len(f.Findings) > 0 && !seen[k] {
			seen[k] = true
			frames = append(frames, f)
		}
	}
	snaps, bad, err := recording.ReadFile("../testdata/recordings/drill.jsonl.gz")
	if err != nil || len(bad) > 0 {
		t.Fatalf("reading the drill recording: bad lines %v, %v", bad, err)
	}
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for _, s := range snaps {
		keep(pipe.Step(s))
	}
	sim := demo.New(demo.Options{Seed: 7})
	pipe = analysis.NewPipeline(analysis.DefaultRules())
	sim.Warm(demo.DefaultWarm+5*time.Minute, demo.DefaultWarmStep, func(s collectors.Snapshot) { keep(pipe.Step(s)) })
	if len(frames) < 2 {
		t.Fatalf("only %d frames with findings", len(frames))
	}
	return frames
}

// findingScreens is the text shown while finding i is selected, paging
// down until the next finding's title or the end: what an engineer can
// read of it by scrolling.
func findingScreens(t *testing.T, m Model, i int, h int) []string {
	t.Helper()
	m.openFindings(i)
	var got []string
	for page := 0; page < 50; page++ {
		lines := strings.Split(ansi.Strip(m.View()), "\n")
		body := lines[2 : len(lines)-2] // title bar, view title … status, keys
		more := strings.Contains(body[len(body)-1], "more lines (PgDn)")
		if more {
			body = body[:len(body)-1]
		}
		if page == 0 { // the last findings are shown from higher up
			at := slices.IndexFunc(body, func(l string) bool { return strings.HasPrefix(l, "> ") })
			if at < 0 {
				t.Fatalf("finding %d opened but no cursor on screen at height %d", i, h)
			}
			body = body[at:]
		}
		for j, l := range body {
			if (page > 0 || j > 0) && (strings.HasPrefix(l, "> ") || strings.HasPrefix(l, "  CRITICAL") ||
				strings.HasPrefix(l, "  WARNING") || strings.HasPrefix(l, "  INFO")) {
				return append(got, body[:j]...) // the next finding starts
			}
		}
		got = append(got, body...)
		if !more {
			return got
		}
		m = update(m, tea.KeyMsg{Type: tea.KeyPgDown})
	}
	t.Fatalf("finding %d never reached its end in 50 pages at height %d", i, h)
	return nil
}

// TestFindingsViewNeverCutsAWord renders every finding of the drill and of
// the demo at three sizes and finds every word of its evidence and fix
// among the lines scrolling shows, each line within the width.
func TestFindingsViewNeverCutsAWord(t *testing.T) {
	skipSweepUnderRace(t)
	frames := shippedFindingFrames(t)
	for _, size := range [][2]int{{80, 24}, {110, 34}, {200, 50}} {
		w, h := size[0], size[1]
		for _, f := range frames {
			m := newTestModel(t, Options{}, f, w, h)
			fs := sortFindings(f.Findings)
			for i := range fs {
				shown := findingScreens(t, m, i, h)
				var words []string
				for _, l := range shown {
					if ansi.StringWidth(l) > w {
						t.Fatalf("%dx%d: line wider than the screen: %q", w, h, l)
					}
					words = append(words, strings.Fields(l)...)
				}
				for _, val := range slices.Concat(fs[i].Evidence, fs[i].Fix) {
					for _, word := range strings.Fields(oneLine(val)) {
						if !hasWord(words, word) {
							t.Fatalf("%dx%d: finding %q: word %q of %q is not shown whole; shown:\n%s",
								w, h, fs[i].Title, word, val, strings.Join(shown, "\n"))
						}
					}
				}
			}
		}
	}
}

// hasWord: the word is shown whole, or in the pieces wrapping breaks it
// into (after a comma, or a word longer than the line cut by width).
func hasWord(words []string, word string) bool {
	if slices.Contains(words, word) {
		return true
	}
	for i := range words {
		rest := word
		for j := i; j < len(words) && strings.HasPrefix(rest, words[j]); j++ {
			rest = strings.TrimPrefix(rest, words[j])
			if rest == "" {
				return j > i
			}
		}
	}
	return false
}
