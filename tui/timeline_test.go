package tui

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// timelineStep is the sample spacing of the test hour.
const timelineStep = 15 * time.Second

// Marks of the test hour, as offsets from its start.
const (
	spikeAt      = 30 * time.Minute // PG lock waits jump to 9 for one sample
	redisDownAt  = 20 * time.Minute // Redis fails for seven minutes
	redisUpAt    = 27 * time.Minute
	poolerWaitAt = 45 * time.Minute // pgbouncer clients start waiting
	troubleAt    = 40 * time.Minute // the probe is refused, a job goes over capacity
)

// timelineHour is an hour of the TalentFlow incident ending at fixedNow,
// one snapshot every timelineStep, stepped through the real pipeline:
// idle sessions climb, a single-sample spike of lock waits, a Redis
// outage, pgbouncer clients waiting at the end.
func timelineHour(t testing.TB) []analysis.Frame {
	t.Helper()
	base := incidentFrame(t).Snapshot
	start := fixedNow.Add(-time.Hour)
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	var frames []analysis.Frame
	for at := time.Duration(0); at <= time.Hour; at += timelineStep {
		s := base
		s.TakenAt = start.Add(at)
		s.IntervalSeconds = map[string]float64{"postgres": 15, "redis": 15, "pgbouncer": 15}
		s.Errors = map[string]string{}
		pg := *base.Postgres
		idle := 20 + int(60*at/time.Hour)
		pg.ByState = map[string]int{"active": 12, "idle": idle, "idle in transaction": int(3 * at / time.Hour)}
		pg.Waiting = 0
		if at == spikeAt {
			pg.Waiting = 9
		}
		pg.Total = 12 + idle + pg.ByState["idle in transaction"]
		pg.SampledAt, pg.LastGoodAt = s.TakenAt, s.TakenAt
		s.Postgres = &pg
		r := *base.Redis
		r.ConnectedClients = int64(150 + 42*at/time.Hour)
		r.SampledAt = s.TakenAt
		if at >= redisDownAt && at < redisUpAt {
			s.Errors["redis"] = "redis: connection refused"
		} else {
			r.LastGoodAt = s.TakenAt
		}
		s.Redis = &r
		waiting := 0
		if at >= poolerWaitAt {
			waiting = 5 + int((at-poolerWaitAt)/time.Minute)/2
		}
		pr, jobs := *base.Probe, *base.Jobs
		pr.SampledAt, jobs.SampledAt, jobs.LastGoodAt = s.TakenAt, s.TakenAt, s.TakenAt
		if at < troubleAt {
			pr.OK, pr.SQLState, pr.Error, pr.Reason = true, "", "", ""
			jobs.OverCapacity = nil
		}
		s.Probe, s.Jobs = &pr, &jobs
		s.PgBouncer = &collectors.PgBouncerStats{Sample: collectors.Sample{SampledAt: s.TakenAt, LastGoodAt: s.TakenAt},
			Pools: []collectors.PgBouncerPool{{ClWaiting: waiting, MaxWaitSeconds: float64(waiting)}}}
		frames = append(frames, pipe.Step(s))
	}
	return frames
}

// timelineAudit is kim's terminate during the hour, as the audit log
// records it (intent and result: one marker).
func timelineAudit() []actions.AuditEntry {
	at := fixedNow.Add(-6 * time.Minute)
	kim := actions.Operator{User: "kim"}
	return []actions.AuditEntry{
		{Time: at, Phase: actions.PhaseIntent, Operator: kim, Action: "terminate", Predicate: "idle of talentflow-web"},
		{Time: at.Add(time.Second), Phase: actions.PhaseResult, Operator: kim, Action: "terminate",
			Predicate: "idle of talentflow-web", Done: make([]int64, 23)},
	}
}

// liveTimeline is a live dashboard at w×h that received the hour and
// opened the timeline (its audit read run).
// r nil is the Ascii profile.
func liveTimeline(t testing.TB, w, h int, opts Options, r *lipgloss.Renderer) Model {
	t.Helper()
	if opts.Mitigator == nil {
		opts.Mitigator = &fakeMitigator{audit: timelineAudit()}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	if r == nil && !opts.NoColor {
		r = asciiRenderer()
	}
	m := New(context.Background(), opts, r)
	m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	for _, f := range timelineHour(t) {
		m = update(m, frameMsg{frame: f})
	}
	next, cmd := m.Update(keyMsg("T"))
	m = next.(Model)
	if cmd == nil {
		t.Fatal("opening the timeline should read the audit log")
	}
	return update(m, cmd())
}

// Goldens of the live timeline at the minimum and a large size, Ascii
// profile. Update with: go test ./tui -run TestGoldenTimeline -update
func TestGoldenTimeline(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 45}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := liveTimeline(t, size[0], size[1], Options{Title: "talentflow"}, nil)
			view := m.View()
			if lines := strings.Split(view, "\n"); len(lines) != size[1] || ansi.StringWidth(lines[0]) != size[0] {
				t.Fatalf("view is %d lines of %d cells, want %dx%d", len(lines), ansi.StringWidth(lines[0]), size[0], size[1])
			}
			golden.RequireEqual(t, []byte(view))
		})
	}
}

// chartRow returns the bars of the series labelled label (the first row
// of a one-row-high chart) with the label column cut off.
func chartRow(t *testing.T, view, label string) []rune {
	t.Helper()
	for _, line := range strings.Split(view, "\n") {
		if strings.HasPrefix(line, label) {
			return []rune(ansi.Strip(line))[tlLabelW:]
		}
	}
	t.Fatalf("no row %q in\n%s", label, view)
	return nil
}

// TestTimelineColumnsCarryTheHistory: each drawn column is the highest
// value the snapshots of its stretch of time had, scaled from zero: the
// one-sample spike of lock waits is kept, the Redis outage is blank (never
// the lowest bar, which is a zero) and marked down, the alert band and the
// action marker sit in the columns of their times.
func TestTimelineColumnsCarryTheHistory(t *testing.T) {
	m := liveTimeline(t, 80, 24, Options{}, nil)
	v := m.timeline
	view := v.View()
	from, to := v.window()
	cols := newColumns(from, to, 80-tlLabelW-1)
	frames := timelineHour(t)
	bars := []rune("▁▂▃▄▅▆▇█")
	check := func(label string, top float64, value func(s *collectors.Snapshot) (float64, bool)) {
		t.Helper()
		row := chartRow(t, view, label)
		for c := 0; c < cols.n; c++ {
			best, any := 0.0, false
			for i := range frames {
				s := &frames[i].Snapshot
				if x, ok := value(s); ok && cols.of(s.TakenAt) == c {
					best, any = math.Max(best, x), true
				}
			}
			want := ' '
			if any {
				want = bars[int(math.Round(best/top*7))]
			}
			if row[c] != want {
				t.Errorf("%s column %d (%s) = %q, want %q (highest %g of %g)", label, c,
					cols.start(c).Format("15:04:05"), row[c], want, best, top)
			}
		}
	}
	pgOK := func(s *collectors.Snapshot) bool { return s.Errors["postgres"] == "" }
	check("PG lock wait", 97, func(s *collectors.Snapshot) (float64, bool) { return float64(s.Postgres.Waiting), pgOK(s) })
	check("PG idle ", 97, func(s *collectors.Snapshot) (float64, bool) { return float64(s.Postgres.ByState["idle"]), pgOK(s) })
	check("Redis clients", 256, func(s *collectors.Snapshot) (float64, bool) {
		return float64(s.Redis.ConnectedClients), s.Errors["redis"] == ""
	})
	check("pgb waiting", 12, func(s *collectors.Snapshot) (float64, bool) { return float64(s.PgBouncer.Waiting()), true })

	start := fixedNow.Add(-time.Hour)
	wait := chartRow(t, view, "PG lock wait")
	if spike := cols.of(start.Add(spikeAt)); wait[spike] == bars[0] {
		t.Errorf("the one-sample spike of 9 lock waits was lost: %q", string(wait))
	}
	redis := chartRow(t, view, "Redis clients")
	down := chartRow(t, view, "down p/r/b")
	for c := 0; c < cols.n; c++ {
		a, b := cols.start(c), cols.start(c+1)
		touches := b.After(start.Add(redisDownAt)) && !a.After(start.Add(redisUpAt-timelineStep))
		if touches != (down[c] == 'r') {
			t.Errorf("down band column %d (%s) = %q, Redis failed there: %v", c, a.Format("15:04:05"), down[c], touches)
		}
	}
	if !strings.Contains(string(redis), "      ") {
		t.Errorf("the seven-minute Redis outage is not a gap: %q", string(redis))
	}

	marker := chartRow(t, view, "actions 1")
	if c := cols.of(fixedNow.Add(-6*time.Minute + time.Second)); marker[c] != '1' {
		t.Errorf("action marker not at its column %d: %q", c, string(marker))
	}
	if !strings.Contains(view, "1 15:40:01 terminate result [idle of talentflow-web]: 23 done by kim") {
		t.Errorf("the action's label is missing:\n%s", view)
	}
	alerts := chartRow(t, view, "alerts")
	for c := 0; c < cols.n; c++ {
		firing := false
		for i := range frames {
			f := &frames[i]
			if cols.of(f.Snapshot.TakenAt) != c {
				continue
			}
			for _, a := range f.Alerts {
				firing = firing || a.State == analysis.Firing
			}
		}
		if firing != (alerts[c] == glyphFiring) {
			t.Errorf("alert band column %d (%s) = %q, a rule firing there: %v", c, cols.start(c).Format("15:04:05"), alerts[c], firing)
		}
	}
}

// TestTimelineWithoutColour: with NO_COLOR the glyphs and labels carry
// everything: no escape sequence, and the legend names each glyph.
func TestTimelineWithoutColour(t *testing.T) {
	m := liveTimeline(t, 80, 24, Options{NoColor: true, Output: &strings.Builder{}}, nil)
	view := m.View()
	if strings.Contains(view, "\x1b[") {
		t.Fatalf("NO_COLOR view has an escape sequence near %q", firstEscape(view))
	}
	for _, want := range []string{"░ pending", "█ firing", "p r b ×: down", "blank: no sample", "UTC", "PG idle/tx",
		"Redis clients", "pgb waiting"} {
		if !strings.Contains(view, want) {
			t.Errorf("NO_COLOR view lacks %q:\n%s", want, view)
		}
	}
	colour := liveTimeline(t, 80, 24, Options{}, profileRenderer(termenv.ANSI256)).View()
	if !strings.Contains(colour, "\x1b[") {
		t.Fatalf("the ANSI256 view has no colour: the comparison below would prove nothing")
	}
	if ansi.Strip(colour) != view {
		t.Errorf("the colour view says something else than the NO_COLOR one once its colour is stripped")
	}
}

// TestTimelineClosesAndHelpFollows: Esc closes, T again too, and the
// help line lists the view's keys while it is open.
func TestTimelineClosesAndHelpFollows(t *testing.T) {
	m := liveTimeline(t, 80, 24, Options{}, nil)
	if m.mode != modeTimeline || !strings.Contains(m.View(), "esc/T close timeline") {
		t.Fatalf("timeline not open or its keys not in the help line:\n%s", m.View())
	}
	m = update(m, keyMsg("esc"))
	if m.mode != modeNormal || strings.Contains(m.View(), "Timeline") {
		t.Fatalf("Esc should close the timeline")
	}
	m = update(m, keyMsg("T"))
	m = update(m, keyMsg("T"))
	if m.mode != modeNormal {
		t.Fatalf("T should close the timeline too")
	}
}

// TestFlowTimelineFollowsReplay: in replay, T shows the whole recording,
// and as replay plays the position (the title's time and the ▲ on the
// axis) moves with it; → seeks and the view follows.
func TestFlowTimelineFollowsReplay(t *testing.T) {
	frames := timelineHour(t)
	for i := range frames {
		frames[i].Trend = nil // as slotwatch replay hands them over
	}
	opts := Options{Mode: ModeReplay, Frames: frames, ReplaySpeed: 64, Now: func() time.Time { return fixedNow }}
	tm := teatest.NewTestModel(t, New(t.Context(), opts, asciiRenderer()), teatest.WithInitialTermSize(80, 24))
	tm.Send(keyMsg("T"))
	waitFor(t, tm, "recording at", "14:46:00–15:46:00 UTC")
	// at ×64 a 250 ms step is 16 s of recording: the position moves on
	moved := regexp.MustCompile(`recording at (14:4[7-9]|14:5|15:)`)
	teatest.WaitFor(t, tm.Output(), moved.Match, teatest.WithDuration(10*time.Second))
	tm.Send(keyMsg(" ")) // stop, then seek a minute on
	tm.Send(keyMsg("right"))
	m := finish(t, tm)
	if m.mode != modeTimeline {
		t.Fatalf("the timeline should still be open, mode %d", m.mode)
	}
	pos := m.replay.at
	view := m.timeline.View()
	if !strings.Contains(view, "recording at "+pos.UTC().Format("15:04:05")+" ") {
		t.Fatalf("the view does not follow replay's position %s:\n%s", pos.Format("15:04:05"), view)
	}
	from, to := m.timeline.window()
	cols := newColumns(from, to, 80-tlLabelW-1)
	axis := ""
	for _, line := range strings.Split(view, "\n") {
		if strings.ContainsRune(line, glyphPos) && strings.Contains(line, "─") {
			axis = line
		}
	}
	if got := strings.IndexRune(string([]rune(axis)[tlLabelW:]), glyphPos); got < 0 ||
		len([]rune(string([]rune(axis)[tlLabelW:])[:got])) != cols.of(pos) {
		t.Fatalf("the position mark is not at column %d of the axis %q", cols.of(pos), axis)
	}
}

// TestTimelineUnwatchedSourceIsNoOutage: a console without pgbouncer marks
// no pgbouncer outage in the down band; the row says it is not configured.
func TestTimelineUnwatchedSourceIsNoOutage(t *testing.T) {
	opts := Options{Mitigator: &fakeMitigator{audit: timelineAudit()}, Now: func() time.Time { return fixedNow }}
	m := New(context.Background(), opts, asciiRenderer())
	m = update(m, tea.WindowSizeMsg{Width: 100, Height: 30})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for _, f := range timelineHour(t) {
		snap := f.Snapshot
		snap.PgBouncer = nil
		delete(snap.IntervalSeconds, "pgbouncer")
		m = update(m, frameMsg{frame: pipe.Step(snap)})
	}
	next, cmd := m.Update(keyMsg("T"))
	m = update(next.(Model), cmd())
	view := m.timeline.View()
	down := string(chartRow(t, view, "down p/r/b"))
	if strings.Contains(down, "b") {
		t.Errorf("pgbouncer is not watched, yet the down band marks it: %q", down)
	}
	if !strings.Contains(down, "r") {
		t.Errorf("the Redis outage is no longer marked: %q", down)
	}
	if !strings.Contains(view, "not configured") {
		t.Errorf("the pgbouncer row does not say it is not configured:\n%s", view)
	}
}
