package tui

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// load is a PostgreSQL with n client backends that changes as the live
// benchmark's held mix does under an application: 60 % idle, 20 % idle in
// transaction, 10 % active, 10 % waiting on a row lock, and every second a
// few of the idle sessions run a short statement (their state_change and
// query_start move, their text may change) while all the others grow one
// second older.
type load struct {
	base     collectors.Snapshot
	sessions []collectors.Session
	at       time.Time
	rng      *rand.Rand
}

var loadQueries = []string{
	"SELECT id, name FROM candidates WHERE job_id = $1",
	"UPDATE applications SET status = $1 WHERE id = $2",
	"SELECT count(*) FROM applications WHERE job_id = $1",
	"INSERT INTO events (kind, payload) VALUES ($1, $2)",
	"COMMIT",
}

func newLoad(t testing.TB, n int) *load {
	base := loadSnapshot(t, "talentflow-incident.json")
	l := &load{base: base, at: base.TakenAt, rng: rand.New(rand.NewPCG(1, 2))}
	apps := []string{"talentflow-web", "talentflow-worker", "talentflow-api", "报表-reports"} // a wide name: two cells a character
	hosts := []string{"10.0.2.11", "10.0.2.12", "10.0.2.21", "10.0.3.5"}
	for i := range n {
		s := collectors.Session{PID: int32(20000 + i), BackendStart: base.TakenAt.Add(-time.Duration(3600+i) * time.Second),
			Datname: "talentflow", Usename: "app", ApplicationName: apps[i%len(apps)], ClientAddr: hosts[i%len(hosts)],
			BackendSeconds: float64(3600 + i), BlockedBy: []int32{}}
		switch {
		case i < n/5:
			s.State, s.StateSeconds, s.XactSeconds, s.QuerySeconds = "idle in transaction", float64(30+i%900), float64(31+i%900), float64(30+i%900)
			s.WaitEventType, s.WaitEvent, s.Query = "Client", "ClientRead", loadQueries[i%4]
		case i < n/5+n/10:
			s.State, s.StateSeconds, s.XactSeconds, s.QuerySeconds = "active", float64(5+i%300), float64(5+i%300), float64(5+i%300)
			s.WaitEventType, s.WaitEvent, s.Query = "Timeout", "PgSleep", "SELECT pg_sleep(3600)"
		case i < n/5+n/5:
			s.State, s.StateSeconds, s.XactSeconds, s.QuerySeconds = "active", float64(2+i%120), float64(2+i%120), float64(2+i%120)
			s.WaitEventType, s.WaitEvent, s.Query = "Lock", "transactionid", "UPDATE jobs SET n = n + 1 WHERE id = 1"
			s.BlockedBy = []int32{20000}
		default:
			s.State, s.StateSeconds, s.QuerySeconds = "idle", float64(i%600)+0.3, float64(i%600)+0.3
			s.WaitEventType, s.WaitEvent, s.Query = "Client", "ClientRead", loadQueries[i%len(loadQueries)]
		}
		l.sessions = append(l.sessions, s)
	}
	return l
}

// step is the load one second later.
func (l *load) step() collectors.Snapshot {
	l.at = l.at.Add(time.Second)
	n := len(l.sessions)
	for i := range l.sessions {
		s := &l.sessions[i]
		s.BackendSeconds++
		s.StateSeconds++
		if s.XactSeconds > 0 {
			s.XactSeconds++
		}
		s.QuerySeconds++
		if i >= n/5+n/5 && l.rng.IntN(20) == 0 { // an idle session ran a statement this second
			s.StateSeconds = l.rng.Float64()
			s.QuerySeconds = s.StateSeconds + 0.002
			s.Query = loadQueries[l.rng.IntN(len(loadQueries))]
		}
	}
	return l.snapshot()
}

func (l *load) snapshot() collectors.Snapshot {
	s := l.base
	s.TakenAt = l.at
	pg := *l.base.Postgres
	pg.SampledAt, pg.LastGoodAt = l.at, l.at
	pg.Sessions = append([]collectors.Session(nil), l.sessions...)
	pg.Total, pg.MaxConnections, pg.Waiting = len(pg.Sessions), len(pg.Sessions)+100, 0
	pg.ByState = map[string]int{}
	for _, x := range pg.Sessions {
		pg.ByState[x.State]++
		if x.WaitEventType == "Lock" {
			pg.Waiting++
		}
	}
	pg.Groups = collectors.GroupSessions(pg.Sessions, false)
	s.Postgres = &pg
	if s.Redis != nil {
		r := *s.Redis
		r.SampledAt, r.LastGoodAt = l.at, l.at
		s.Redis = &r
	}
	return s
}

// loadFrames are refreshes frames of the load through the real pipeline,
// after ten minutes of history (the sparklines' window).
func loadFrames(t testing.TB, sessions, refreshes int) []analysis.Frame {
	l := newLoad(t, sessions)
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for range 600 {
		pipe.Step(l.step())
	}
	frames := make([]analysis.Frame, refreshes)
	for i := range frames {
		frames[i] = pipe.Step(l.step())
	}
	return frames
}

// screen is the real program (bubbletea's renderer) writing to a byte
// counter at a fixed size, on a clock the caller moves.
type screen struct {
	p     *tea.Program
	out   *countingWriter
	clock atomic.Int64
	done  chan struct{}
}

// countingWriter counts what reaches the terminal, and copies it to to
// when set.
type countingWriter struct {
	n  atomic.Int64
	to io.Writer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	if c.to != nil {
		return c.to.Write(p)
	}
	return len(p), nil
}

// flush is longer than one frame of the renderer, so that each message is
// painted on its own.
const flush = 1100 * time.Millisecond / RendererFPS

func newScreen(t testing.TB, w, h int, first analysis.Frame, opts Options) *screen {
	return newScreenOn(t, w, h, first, opts, &countingWriter{})
}

func newScreenOn(t testing.TB, w, h int, first analysis.Frame, opts Options, out *countingWriter) *screen {
	sc := &screen{out: out, done: make(chan struct{})}
	sc.clock.Store(first.Snapshot.TakenAt.UnixNano())
	opts.Now = func() time.Time { return time.Unix(0, sc.clock.Load()) }
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256) // colours cost bytes, as in a real terminal
	sc.p = tea.NewProgram(New(context.Background(), opts, r), ProgramOptions(sc.out,
		tea.WithInput(nil), tea.WithoutSignalHandler(), tea.WithAltScreen())...)
	go func() { _, _ = sc.p.Run(); close(sc.done) }()
	sc.p.Send(tea.WindowSizeMsg{Width: w, Height: h})
	sc.p.Send(frameMsg{frame: first})
	time.Sleep(3 * flush) // the first full paint is not a steady refresh
	return sc
}

// refresh is one live second: the frame arrives a few milliseconds after
// it was taken, and the model's clock ticks half a second later.
func (sc *screen) refresh(f analysis.Frame) {
	sc.clock.Store(f.Snapshot.TakenAt.Add(30 * time.Millisecond).UnixNano())
	sc.p.Send(frameMsg{frame: f})
	time.Sleep(flush)
	now := f.Snapshot.TakenAt.Add(530 * time.Millisecond)
	sc.clock.Store(now.UnixNano())
	sc.p.Send(tickMsg(now))
	time.Sleep(flush)
}

// newPlainScreen is newScreenOn with bubbletea's own renderer writing
// straight to out, as before the cell writer.
func newPlainScreen(t testing.TB, w, h int, first analysis.Frame, out *countingWriter) *screen {
	sc := &screen{out: out, done: make(chan struct{})}
	sc.clock.Store(first.Snapshot.TakenAt.UnixNano())
	opts := Options{Now: func() time.Time { return time.Unix(0, sc.clock.Load()) }}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	sc.p = tea.NewProgram(New(context.Background(), opts, r), tea.WithFPS(RendererFPS), tea.WithOutput(out),
		tea.WithInput(nil), tea.WithoutSignalHandler(), tea.WithAltScreen())
	go func() { _, _ = sc.p.Run(); close(sc.done) }()
	sc.p.Send(tea.WindowSizeMsg{Width: w, Height: h})
	sc.p.Send(frameMsg{frame: first})
	time.Sleep(3 * flush)
	return sc
}

func (sc *screen) stop() {
	sc.p.Quit()
	<-sc.done
}

// BenchmarkTerminalBytesUnderLoad is what the dashboard writes to its
// terminal per one-second refresh with 1,000 sessions changing as a real
// load does, through bubbletea's real renderer, at the minimum size and a
// war-room screen: what every viewer's link carries per second; "lines" is
// bubbletea's own renderer alone, "cells" the dashboard's (ProgramOptions).
// Run with -benchtime=60x (each refresh waits for two renderer flushes).
func BenchmarkTerminalBytesUnderLoad(b *testing.B) {
	frames := loadFrames(b, 1000, 121)
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		for _, renderer := range []string{"lines", "cells"} {
			b.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], renderer), func(b *testing.B) {
				var sc *screen
				if renderer == "cells" {
					sc = newScreen(b, size[0], size[1], frames[0], Options{})
				} else {
					sc = newPlainScreen(b, size[0], size[1], frames[0], &countingWriter{})
				}
				defer sc.stop()
				start := sc.out.n.Load()
				i := 0
				for b.Loop() {
					sc.refresh(frames[1+i%(len(frames)-1)])
					i++
				}
				b.ReportMetric(float64(sc.out.n.Load()-start)/float64(b.N), "bytes/refresh")
			})
		}
	}
}
