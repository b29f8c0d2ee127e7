package tui

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// startFlow runs the dashboard in a teatest program at 120x40 showing the
// incident frame.
func startFlow(t *testing.T, opts Options) (*teatest.TestModel, analysis.Frame) {
	t.Helper()
	opts.Now = func() time.Time { return fixedNow }
	frame := incidentFrame(t)
	tm := teatest.NewTestModel(t, New(context.Background(), opts, asciiRenderer()), teatest.WithInitialTermSize(120, 40))
	tm.Send(frameMsg{frame: frame})
	waitFor(t, tm, "Sessions 92")
	return tm, frame
}

// waitFor reads the program's output until every text has appeared; output
// read here is consumed, so texts of one screen are awaited together.
func waitFor(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, text := range texts {
			if !bytes.Contains(b, []byte(text)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func finish(t *testing.T, tm *teatest.TestModel) Model {
	t.Helper()
	tm.Send(keyMsg("q"))
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
}

func TestFlowFilter(t *testing.T) {
	tm, _ := startFlow(t, Options{})
	tm.Type("/")
	tm.Type("celery")
	waitFor(t, tm, "Sessions 3 of 92")
	tm.Send(keyMsg("enter"))
	m := finish(t, tm)
	if m.sessions.text != "celery" || len(m.sessions.rows) != 3 {
		t.Fatalf("filter kept %q with %d rows, want celery with 3", m.sessions.text, len(m.sessions.rows))
	}
	for _, r := range m.sessions.rows {
		if app := m.sessions.all[r].ApplicationName; app != "celery-worker" {
			t.Fatalf("filtered row from %q", app)
		}
	}
}

func TestFlowStateFilterAndClear(t *testing.T) {
	tm, _ := startFlow(t, Options{})
	tm.Type("t")
	waitFor(t, tm, "state=idle in transaction")
	tm.Type("t")
	m := finish(t, tm)
	if m.sessions.state != "" || len(m.sessions.rows) != 92 {
		t.Fatalf("pressing t twice should clear the state filter, got %q with %d rows", m.sessions.state, len(m.sessions.rows))
	}
}

func TestFlowSort(t *testing.T) {
	tm, _ := startFlow(t, Options{})
	tm.Type("s") // IN STATE -> XACT, descending
	waitFor(t, tm, "XACT▼")
	m := finish(t, tm)
	first := m.sessions.all[m.sessions.rows[0]]
	if first.State != "idle in transaction" {
		t.Fatalf("sorted by transaction age the first row should be idle in transaction, got %+v", first)
	}
	if m.sessions.current().PID != 20268 {
		t.Fatalf("the cursor should stay on its session when the order changes, it is on %d", m.sessions.current().PID)
	}
}

func TestFlowDetail(t *testing.T) {
	tm, _ := startFlow(t, Options{})
	tm.Type("w") // lock waiters only
	waitFor(t, tm, "state=waiting")
	tm.Send(keyMsg("enter"))
	waitFor(t, tm, "Blocked by (1)", "UPDATE jobs_job SET application_count")
	tm.Send(keyMsg("esc"))
	m := finish(t, tm)
	if m.mode != modeNormal {
		t.Fatalf("esc should leave the detail view, mode %d", m.mode)
	}
}

func TestFlowPause(t *testing.T) {
	tm, frame := startFlow(t, Options{})
	tm.Type("p")
	waitFor(t, tm, "PAUSED")
	later := frame
	later.Snapshot.TakenAt = frame.Snapshot.TakenAt.Add(time.Minute)
	tm.Send(frameMsg{frame: later})
	tm.Send(keyMsg("?")) // a render after the held frame arrived
	tm.Send(keyMsg("?"))
	m := finish(t, tm)
	if !m.paused || m.held == nil || !m.frame.Snapshot.TakenAt.Equal(frame.Snapshot.TakenAt) {
		t.Fatalf("paused display must keep the old frame and hold the new one: paused=%v held=%v shown=%v",
			m.paused, m.held != nil, m.frame.Snapshot.TakenAt)
	}
	m = update(m, keyMsg("p"))
	if m.paused || !m.frame.Snapshot.TakenAt.Equal(later.Snapshot.TakenAt) {
		t.Fatalf("resuming should show the held frame, shows %v", m.frame.Snapshot.TakenAt)
	}
}

func TestFlowMarkTerminateConfirm(t *testing.T) {
	mit := &fakeMitigator{sessions: incidentFrame(t).Snapshot.Postgres.Sessions}
	tm, _ := startFlow(t, Options{Mitigator: mit})
	tm.Send(keyMsg(" "))
	tm.Send(keyMsg(" "))
	waitFor(t, tm, "2 marked")
	tm.Type("K")
	waitFor(t, tm, "CONFIRM TERMINATE of 2 session(s)", "protected application pg_dump")
	tm.Type("y")
	waitFor(t, tm, "terminate: 2 done")
	m := finish(t, tm)
	if len(m.footer.audit) != 1 || !strings.Contains(m.footer.audit[0].text, "terminate result") {
		t.Fatalf("the audit pane should show the result entry, has %+v", m.footer.audit)
	}
	mit.mu.Lock()
	defer mit.mu.Unlock()
	if len(mit.executed) != 1 || len(mit.executed[0].Targets) != 2 {
		t.Fatalf("want one execution of 2 targets, got %+v", mit.executed)
	}
	got := []int32{mit.executed[0].Targets[0].PID, mit.executed[0].Targets[1].PID}
	if got[0] != 20268 || got[1] != 20436 {
		t.Fatalf("terminated %v, want the two longest idle (20268, 20436)", got)
	}
	if len(m.sessions.marks) != 0 {
		t.Fatalf("marks should clear after the action")
	}
}

func TestFlowDeclineRunsNothing(t *testing.T) {
	mit := &fakeMitigator{sessions: incidentFrame(t).Snapshot.Postgres.Sessions}
	tm, _ := startFlow(t, Options{Mitigator: mit})
	tm.Type("G")
	waitFor(t, tm, "CONFIRM TERMINATE")
	tm.Type("x") // not an answer
	tm.Send(keyMsg("esc"))
	waitFor(t, tm, "Declined terminate")
	finish(t, tm)
	mit.mu.Lock()
	defer mit.mu.Unlock()
	if len(mit.executed) != 0 || len(mit.declined) != 1 {
		t.Fatalf("decline must execute nothing and record the decline: executed %d declined %d", len(mit.executed), len(mit.declined))
	}
	// By default a group is application/user/database, whatever the
	// client address: G acts on what the groups pane shows.
	f := mit.declined[0].Request.Filter
	if f.IdleOver != 10*time.Minute || f.App != "talentflow-web" || f.User != "talentflow_app" || f.DB != "talentflow" ||
		f.Client != "" || len(f.States) != 1 || f.States[0] != "idle" {
		t.Fatalf("group terminate filter %+v", f)
	}
	clients := map[string]bool{}
	for _, b := range mit.declined[0].Targets {
		if b.ApplicationName != "talentflow-web" || b.StateSeconds < 600 {
			t.Fatalf("target outside the group or idle under 10m: %+v", b)
		}
		clients[b.ClientAddr] = true
	}
	if len(clients) < 2 {
		t.Fatalf("the group spans the web pods' client addresses, targets came from %v", clients)
	}
}

func TestReadOnlyDisablesActionsVisibly(t *testing.T) {
	mit := &fakeMitigator{readOnly: true}
	m := newTestModel(t, Options{Mitigator: mit}, incidentFrame(t), 120, 40)
	if !strings.Contains(m.View(), "READ-ONLY: actions disabled") {
		t.Fatal("read-only must show in the title bar")
	}
	next, cmd := m.Update(keyMsg("K"))
	m = next.(Model)
	if cmd != nil || m.mode == modeConfirm || !strings.Contains(m.View(), "Read-only mode: actions are disabled") {
		t.Fatalf("K in read-only must explain and do nothing; view:\n%s", m.View())
	}
}

func TestRedisKillGroup(t *testing.T) {
	frame := incidentFrame(t)
	mit := &fakeMitigator{clients: frame.Snapshot.Redis.Clients}
	m := newTestModel(t, Options{Mitigator: mit}, frame, 120, 40)
	m = update(update(m, keyMsg("tab")), keyMsg("tab"))
	next, cmd := m.Update(keyMsg("X"))
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || m.confirm.redis() == nil {
		t.Fatalf("X should open the confirmation, mode %d", m.mode)
	}
	plan := m.confirm.redis()
	if plan.Filter.Host != "10.0.2.21" || plan.Filter.Lib != "redis-py" || len(plan.Targets) != 170 {
		t.Fatalf("kill of the analytics group: filter %+v with %d targets, want 170", plan.Filter, len(plan.Targets))
	}
	next, cmd = m.Update(keyMsg("y"))
	m = update(next.(Model), cmd())
	if !strings.Contains(m.footer.text, "CLIENT KILL: 170 done") {
		t.Fatalf("footer %q", m.footer.text)
	}
}

func TestCursorFollowsSessionAcrossRefresh(t *testing.T) {
	frame := incidentFrame(t)
	m := newTestModel(t, Options{}, frame, 120, 40)
	m = update(update(update(m, keyMsg("down")), keyMsg("down")), keyMsg("down"))
	want := m.sessions.current().Key()
	// The next sample: the three longest idle sessions are gone.
	next := frame
	pg := *frame.Snapshot.Postgres
	pg.Sessions = nil
	for _, s := range frame.Snapshot.Postgres.Sessions {
		if s.PID != 20268 && s.PID != 20436 && s.PID != 20604 {
			pg.Sessions = append(pg.Sessions, s)
		}
	}
	next.Snapshot.Postgres = &pg
	m = update(m, frameMsg{frame: next})
	if got := m.sessions.current().Key(); got != want || m.sessions.cursor != 0 {
		t.Fatalf("cursor on %v at row %d, want %v at row 0", got, m.sessions.cursor, want)
	}
}

func TestStaleSourceIsMarked(t *testing.T) {
	frame := incidentFrame(t)
	frame.Snapshot.Errors = map[string]string{"redis": "redis: connection refused; is Redis running?"}
	r := *frame.Snapshot.Redis
	r.LastGoodAt = frame.Snapshot.TakenAt.Add(-30 * time.Second)
	frame.Snapshot.Redis = &r
	m := newTestModel(t, Options{}, frame, 200, 50)
	v := m.View()
	if !strings.Contains(v, "STALE 30s redis: connection refused") {
		t.Fatalf("stale Redis not marked:\n%s", v)
	}
	if strings.Contains(strings.Split(v, "\n")[1], "STALE") {
		t.Fatal("PostgreSQL is fresh and must not be marked STALE")
	}
	// No frame for 10 s: the live clock ages every source.
	now := fixedNow.Add(10 * time.Second)
	m.opts.Now = func() time.Time { return now }
	m = update(m, tickMsg(now))
	if line := strings.Split(m.View(), "\n")[1]; !strings.Contains(line, "STALE 10s") {
		t.Fatalf("PostgreSQL should be STALE after 10 s without a sample: %s", line)
	}
}

func TestReplayKeys(t *testing.T) {
	base := incidentFrame(t)
	var frames []analysis.Frame
	for i := 0; i < 10; i++ {
		f := base
		f.Snapshot.TakenAt = base.Snapshot.TakenAt.Add(time.Duration(i) * 30 * time.Second)
		frames = append(frames, f)
	}
	m := New(context.Background(), Options{Mode: ModeReplay, Frames: frames, Mitigator: &fakeMitigator{}}, asciiRenderer())
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	steps := []struct {
		key  string
		want int
	}{{"right", 2}, {"right", 4}, {"left", 2}, {"end", 9}, {"home", 0}}
	for _, s := range steps {
		m = update(m, keyMsg(s.key))
		if s.key == "end" || s.key == "home" {
			m = update(m, tea.KeyMsg{Type: map[string]tea.KeyType{"end": tea.KeyEnd, "home": tea.KeyHome}[s.key]})
		}
		if m.replay.idx != s.want {
			t.Fatalf("after %s frame %d, want %d", s.key, m.replay.idx, s.want)
		}
	}
	m = update(update(m, keyMsg("+")), keyMsg("+"))
	if m.replay.speed != 4 {
		t.Fatalf("speed %g, want 4", m.replay.speed)
	}
	m = update(m, keyMsg(" "))
	if m.replay.playing {
		t.Fatal("space should pause the replay")
	}
	next, cmd := m.Update(keyMsg("K"))
	if cmd != nil || !strings.Contains(next.(Model).footer.text, "disabled while replaying") {
		t.Fatal("actions must be disabled in replay")
	}
}

func TestReusedPIDIsLeftOut(t *testing.T) {
	frame := incidentFrame(t)
	sessions := append([]collectors.Session(nil), frame.Snapshot.Postgres.Sessions...)
	sessions[0].BackendStart = sessions[0].BackendStart.Add(time.Hour) // the server now has a new backend on that pid
	mit := &fakeMitigator{sessions: sessions}
	m := newTestModel(t, Options{Mitigator: mit}, frame, 120, 40)
	var target collectors.Session
	for _, s := range frame.Snapshot.Postgres.Sessions {
		if s.PID == sessions[0].PID {
			target = s
		}
	}
	next, cmd := m.askSessions(actions.Terminate, []sessionTarget{target})
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || len(m.confirm.session().Targets) != 0 || m.confirm.dropped != 1 {
		t.Fatalf("a reused pid must not be a target: targets %d dropped %d", len(m.confirm.session().Targets), m.confirm.dropped)
	}
	if v := m.View(); !strings.Contains(v, "pid reused") || !strings.Contains(v, "Nothing would be changed") {
		t.Fatalf("the dialog should explain the left-out target:\n%s", v)
	}
}

func TestPausedClockDoesNotAge(t *testing.T) {
	now := fixedNow
	m := newTestModel(t, Options{Now: func() time.Time { return now }}, incidentFrame(t), 120, 40)
	m = update(m, keyMsg("p"))
	now = now.Add(time.Minute)
	m = update(m, tickMsg(now))
	if v := m.View(); strings.Contains(v, "STALE") || !strings.Contains(v, "PAUSED") {
		t.Fatalf("a paused display must not turn STALE while collection runs:\n%s", v)
	}
	m = update(m, keyMsg("p"))
	if v := m.View(); !strings.Contains(strings.Split(v, "\n")[1], "STALE 1m00s") {
		t.Fatalf("resumed without a new frame, the minute-old data is STALE:\n%s", v)
	}
}

func TestNoColorRendersNoEscapes(t *testing.T) {
	t.Setenv("CLICOLOR_FORCE", "1") // a terminal that would get colour
	var buf bytes.Buffer
	colour := New(context.Background(), Options{Output: &buf, Now: func() time.Time { return fixedNow }}, nil)
	plain := New(context.Background(), Options{Output: &buf, NoColor: true, Now: func() time.Time { return fixedNow }}, nil)
	render := func(m Model) string {
		m = update(update(m, tea.WindowSizeMsg{Width: 120, Height: 40}), frameMsg{frame: incidentFrame(t)})
		return m.View()
	}
	if !strings.Contains(render(colour), "\x1b[") {
		t.Fatal("with colour forced the view should carry escape sequences (the check below would prove nothing)")
	}
	if v := render(plain); strings.Contains(v, "\x1b[") || !strings.Contains(v, "!! FIRING") {
		t.Fatal("NO_COLOR must render without escape sequences and keep the words")
	}
}

func TestCancelOffersTerminate(t *testing.T) {
	frame := incidentFrame(t)
	mit := &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions}
	m := newTestModel(t, Options{Mitigator: mit}, frame, 120, 40)
	next, cmd := m.Update(keyMsg("C")) // on the longest idle session
	m = update(next.(Model), cmd())
	if !strings.Contains(m.View(), "K terminates them instead") {
		t.Fatalf("a cancel dialog should offer terminate:\n%s", m.View())
	}
	next, cmd = m.Update(keyMsg("K"))
	m = next.(Model)
	for _, msg := range runSequence(cmd) {
		m = update(m, msg)
	}
	if m.mode != modeConfirm || m.confirm.session().Request.Kind != actions.Terminate || len(m.confirm.session().Targets) != 1 {
		t.Fatalf("K should preview a terminate of the same session, mode %d", m.mode)
	}
	if len(mit.declined) != 1 || mit.declined[0].Request.Kind != actions.Cancel {
		t.Fatalf("the cancel preview should be recorded as declined: %+v", mit.declined)
	}
}

// runSequence runs the commands of a tea.Sequence in order (its message
// type is unexported: a slice of commands).
func runSequence(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	v := reflect.ValueOf(msg)
	if v.Kind() != reflect.Slice || v.Type().Elem() != reflect.TypeOf(tea.Cmd(nil)) {
		return []tea.Msg{msg}
	}
	var out []tea.Msg
	for i := 0; i < v.Len(); i++ {
		out = append(out, runSequence(v.Index(i).Interface().(tea.Cmd))...)
	}
	return out
}

func TestMarksOfEndedBackendsAreDropped(t *testing.T) {
	frame := incidentFrame(t)
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, frame, 120, 40)
	m = update(update(m, keyMsg(" ")), keyMsg(" "))
	if len(m.sessions.marks) != 2 {
		t.Fatalf("%d marks, want 2", len(m.sessions.marks))
	}
	next := frame
	pg := *frame.Snapshot.Postgres
	pg.Sessions = nil
	for _, s := range frame.Snapshot.Postgres.Sessions {
		if s.PID != 20268 { // the first marked (longest idle) backend ended
			pg.Sessions = append(pg.Sessions, s)
		}
	}
	next.Snapshot.Postgres = &pg
	m = update(m, frameMsg{frame: next})
	if len(m.sessions.marks) != 1 || len(m.sessions.targets()) != 1 {
		t.Fatalf("marks %d after one marked backend ended, want 1", len(m.sessions.marks))
	}
}
