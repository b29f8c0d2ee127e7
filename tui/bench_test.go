package tui

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
)

// bigFrame is the incident with n sessions (the fixture's rows repeated).
func bigFrame(b testing.TB, n int) analysis.Frame {
	f := incidentFrame(b)
	pg := *f.Snapshot.Postgres
	base := pg.Sessions
	pg.Sessions = make([]collectors.Session, n)
	for i := range pg.Sessions {
		s := base[i%len(base)]
		s.PID = int32(30000 + i)
		s.StateSeconds += float64(i % 500)
		pg.Sessions[i] = s
	}
	pg.Total = n
	f.Snapshot.Postgres = &pg
	return f
}

// advance is the next steady-state sample: one second later, every session
// one second older in its state.
func advance(f analysis.Frame, step int) analysis.Frame {
	pg := *f.Snapshot.Postgres
	pg.Sessions = append([]collectors.Session(nil), pg.Sessions...)
	for i := range pg.Sessions {
		pg.Sessions[i].StateSeconds += float64(step)
	}
	f.Snapshot.Postgres = &pg
	f.Snapshot.TakenAt = f.Snapshot.TakenAt.Add(time.Duration(step) * time.Second)
	return f
}

func BenchmarkView5000Sessions(b *testing.B) {
	m := newTestModel(b, Options{}, bigFrame(b, 5000), 200, 50)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}

func BenchmarkUpdateViewIncident(b *testing.B) {
	benchUpdateView(b, incidentFrame(b))
}

func BenchmarkUpdateView5000Sessions(b *testing.B) {
	benchUpdateView(b, bigFrame(b, 5000))
}

func benchUpdateView(b *testing.B, f analysis.Frame) {
	m := newTestModel(b, Options{}, f, 200, 50)
	frames := []analysis.Frame{advance(f, 1), advance(f, 2)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m = update(m, frameMsg{frame: frames[i%2]})
		_ = m.View()
	}
}

// BenchmarkSnapshotToScreen is the whole path of one sample in the demo:
// the bridge's pipeline Step, Update and View, on the simulation's snapshots.
func BenchmarkSnapshotToScreen(b *testing.B) {
	sim := demo.New(demo.Options{Seed: 1})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for i := 0; i < 120; i++ { // ten minutes of history, as the dashboard keeps
		pipe.Step(sim.Snapshot())
		sim.Advance(5 * time.Second)
	}
	snaps := make([]collectors.Snapshot, 16)
	for i := range snaps {
		snaps[i] = sim.Snapshot()
		sim.Advance(time.Second)
	}
	m := newTestModel(b, Options{}, pipe.Step(snaps[0]), 200, 50)
	start := sim.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := snaps[i%len(snaps)]
		s.TakenAt = start.Add(time.Duration(i) * time.Second) // one sample a second, as live
		m = update(m, frameMsg{frame: pipe.Step(s)})
		_ = m.View()
	}
}

// syncBuffer is the terminal: the program writes from its own goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// BenchmarkBytesPerRefresh runs the real program against a buffer and
// reports the bytes bubbletea writes to the terminal for one steady-state
// refresh of the incident (what crosses an SSH link per second), at the
// minimum size, a laptop terminal and a war-room screen.
func BenchmarkBytesPerRefresh(b *testing.B) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) { benchBytes(b, size[0], size[1]) })
	}
}

func benchBytes(b *testing.B, w, h int) {
	f := incidentFrame(b)
	out := &syncBuffer{}
	m := New(context.Background(), Options{Now: func() time.Time { return fixedNow }}, asciiRenderer())
	p := tea.NewProgram(m, ProgramOptions(out, tea.WithInput(nil), tea.WithoutSignalHandler(), tea.WithAltScreen())...)
	done := make(chan struct{})
	go func() { _, _ = p.Run(); close(done) }()
	p.Send(tea.WindowSizeMsg{Width: w, Height: h})
	p.Send(frameMsg{frame: f})
	time.Sleep(100 * time.Millisecond) // first full paint
	b.ResetTimer()
	start := out.Len()
	for i := 0; i < b.N; i++ {
		p.Send(frameMsg{frame: advance(f, i+1)})
		time.Sleep(40 * time.Millisecond) // let the 60 fps renderer flush this frame alone
	}
	b.StopTimer()
	b.ReportMetric(float64(out.Len()-start)/float64(b.N), "bytes/refresh")
	p.Quit()
	<-done
}

// BenchmarkBytesPerViewer is what one SSH viewer of `slotwatch serve` pays
// per steady refresh: several served sessions (each its own program,
// renderer and terminal, with presence in the header) get the same frames,
// and the bytes written to each are averaged.
func BenchmarkBytesPerViewer(b *testing.B) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) { benchViewers(b, 3, size[0], size[1]) })
	}
}

func benchViewers(b *testing.B, viewers, w, h int) {
	f := incidentFrame(b)
	presence := func() []string { return []string{"kim (operator)", "marcus", "sarah"} }
	outs := make([]*syncBuffer, viewers)
	progs := make([]*tea.Program, viewers)
	var wg sync.WaitGroup
	for i := range progs {
		outs[i] = &syncBuffer{}
		opts := Options{Now: func() time.Time { return fixedNow }, Viewer: &Viewer{Name: fmt.Sprintf("viewer%d", i)},
			Presence: presence}
		progs[i] = tea.NewProgram(New(context.Background(), opts, asciiRenderer()),
			ProgramOptions(outs[i], tea.WithInput(nil), tea.WithoutSignalHandler(), tea.WithAltScreen())...)
		wg.Add(1)
		go func(p *tea.Program) { defer wg.Done(); _, _ = p.Run() }(progs[i])
		progs[i].Send(tea.WindowSizeMsg{Width: w, Height: h})
		progs[i].Send(frameMsg{frame: f})
	}
	time.Sleep(100 * time.Millisecond) // first full paint
	start := make([]int, viewers)
	for i, o := range outs {
		start[i] = o.Len()
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		next := advance(f, n+1)
		for _, p := range progs {
			p.Send(frameMsg{frame: next})
		}
		time.Sleep(40 * time.Millisecond) // one frame per renderer tick
	}
	b.StopTimer()
	total := 0
	for i, o := range outs {
		total += o.Len() - start[i]
	}
	b.ReportMetric(float64(total)/float64(viewers*b.N), "bytes/viewer/refresh")
	for _, p := range progs {
		p.Quit()
	}
	wg.Wait()
}
