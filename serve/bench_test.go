package serve

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/tui"
)

// incidentFrames are consecutive one-second frames of the TalentFlow
// incident, twelve simulated minutes in (alerts firing, 95 sessions).
func incidentFrames(n int) []analysis.Frame {
	sim := demo.New(demo.Options{Seed: 1})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for range 144 {
		pipe.Step(sim.Snapshot())
		sim.Advance(5 * time.Second)
	}
	frames := make([]analysis.Frame, n)
	for i := range frames {
		sim.Advance(time.Second)
		frames[i] = pipe.Step(sim.Snapshot())
	}
	return frames
}

func viewerModel(frames []analysis.Frame, w, h int, now func() time.Time) tea.Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	opts := tui.Options{Mode: tui.ModeDemo, Now: now,
		Viewer: &tui.Viewer{Name: "marcus"}, Presence: func() []string { return []string{"kim (operator)", "marcus"} }}
	var m tea.Model = tui.New(context.Background(), opts, r)
	m, _ = m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m, _ = m.Update(tui.FrameMsg(frames[0]))
	return m
}

// BenchmarkRefreshViewers is one refresh of the served dashboard: the one
// pipeline's frame reaches N viewers, each with its own model, which
// updates and renders (as the bridge and bubbletea do per session).
// ns/viewer and B/viewer are the cost of each additional viewer.
func BenchmarkRefreshViewers(b *testing.B) {
	frames := incidentFrames(60)
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			clock := frames[0].Snapshot.TakenAt
			models := make([]tea.Model, n)
			for i := range models {
				models[i] = viewerModel(frames, 120, 40, func() time.Time { return clock })
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f := frames[i%len(frames)]
				clock = f.Snapshot.TakenAt
				for j, m := range models {
					m, _ = m.Update(tui.FrameMsg(f))
					_ = m.View()
					models[j] = m
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/viewer")
		})
	}
}

// countingWriter counts the bytes a session's terminal would receive.
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkBytesPerRefresh runs a real bubbletea program with the
// dashboard's renderer options (only changed cells reach the terminal)
// and reports the bytes one viewer's
// SSH link carries per steady one-second refresh, at 80x24 and 200x50.
// Run with -benchtime=30x: each refresh waits for the renderer's flush.
func BenchmarkBytesPerRefresh(b *testing.B) {
	frames := incidentFrames(120)
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			var clock atomic.Int64 // the program's goroutine reads it
			clock.Store(frames[0].Snapshot.TakenAt.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			out := &countingWriter{}
			p := tea.NewProgram(viewerModel(frames, size[0], size[1], now),
				tui.ProgramOptions(out, tea.WithInput(nil), tea.WithoutSignalHandler(), tea.WithAltScreen())...)
			done := make(chan struct{})
			go func() { _, _ = p.Run(); close(done) }()
			p.Send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			time.Sleep(100 * time.Millisecond) // the first full paint is not a steady refresh
			start := out.n.Load()
			i := 0
			for b.Loop() {
				f := frames[1+i%(len(frames)-1)]
				clock.Store(f.Snapshot.TakenAt.UnixNano())
				p.Send(tui.FrameMsg(f))
				time.Sleep(40 * time.Millisecond) // > one frame of the 60 fps renderer
				i++
			}
			b.ReportMetric(float64(out.n.Load()-start)/float64(b.N), "bytes/refresh")
			p.Quit()
			<-done
		})
	}
}
