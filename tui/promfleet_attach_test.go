package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// fakeAttacher records the calls; the TUI's side of attaching is pure
// (the real Set is tested in collectors and cmd).
type fakeAttacher struct {
	attached []string
	detached []string
	err      error
}

func (f *fakeAttacher) Attach(_ context.Context, in collectors.FleetInstance) (collectors.ServerInfo, error) {
	if f.err != nil {
		return collectors.ServerInfo{}, f.err
	}
	name := liveNameOf(&in)
	f.attached = append(f.attached, name)
	return collectors.ServerInfo{Name: name, Kind: collectors.SourcePostgres}, nil
}

func (f *fakeAttacher) Detach(_ context.Context, name string) error {
	f.detached = append(f.detached, name)
	return f.err
}

// pressRun presses k and runs the command it returns (the Attacher's
// call), feeding its messages back: what bubbletea would do.
func pressRun(t *testing.T, m Model, k string) Model {
	t.Helper()
	next, cmd := m.Update(keyMsg(k))
	m = next.(Model)
	for _, msg := range runCmds(cmd) {
		switch msg.(type) {
		case attachedMsg, detachedMsg:
			m = update(m, msg)
		}
	}
	return m
}

func runCmds(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, runCmds(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// TestFleetViewAttachesAndDetaches: a on an instance calls the Attacher in
// a command (Update does no I/O), the dashboard switches to the attached
// server as soon as a frame lists it, the fleet view says it is attached,
// d detaches it; a refusal (the limit) is shown as the Attacher's
// sentence; help lists a and d.
func TestFleetViewAttachesAndDetaches(t *testing.T) {
	f := fleetFrameAt(12, fixedNow)
	f.Snapshot.PromFleet.Instances[0].Live = "postgres://slotwatch@db-000.internal:5432/postgres"
	att := &fakeAttacher{}
	m := newTestModel(t, Options{Attacher: att}, f, 140, 30)
	if m.mode != modePromFleet || !strings.Contains(m.View(), "a attaches live: postgres://slotwatch@db-000.internal:5432/postgres") {
		t.Fatalf("fleet view:\n%s", m.View())
	}
	next, cmd := m.Update(keyMsg("a"))
	if len(att.attached) != 0 || cmd == nil {
		t.Fatal("a attached inside Update, or returned no command")
	}
	m = next.(Model)
	for _, msg := range runCmds(cmd) {
		if _, ok := msg.(attachedMsg); ok {
			m = update(m, msg)
		}
	}
	const name = "live:db-000.internal:5432"
	if len(att.attached) != 1 || att.attached[0] != name || m.pendingShow != name || m.mode != modePromFleet {
		t.Fatalf("after a: attached %v, pending %q, mode %v", att.attached, m.pendingShow, m.mode)
	}
	// The collectors' next snapshot lists it: the dashboard shows it.
	with := withServers(f, collectors.ServerSnapshot{Name: name, Kind: collectors.SourcePostgres,
		Postgres: &collectors.PGStats{Target: "db-000.internal:5432/postgres", MaxConnections: 100, Total: 7}})
	m = update(m, frameMsg{frame: with})
	if m.mode != modeNormal || m.fleet.shownName(collectors.SourcePostgres) != name || !strings.Contains(m.View(), name) {
		t.Fatalf("the attached server is not shown: mode %v, shown %q\n%s", m.mode, m.fleet.shownName(collectors.SourcePostgres), m.View())
	}
	m = pressAll(m, "F")
	if v := m.View(); !strings.Contains(v, "attached live as "+name) {
		t.Errorf("the fleet view does not say the instance is attached:\n%s", v)
	}
	m = pressRun(t, m, "d")
	if len(att.detached) != 1 || att.detached[0] != name || !strings.Contains(m.View(), "Detached "+name) {
		t.Fatalf("d: detached %v\n%s", att.detached, m.View())
	}
	m = update(m, frameMsg{frame: f})
	m = pressRun(t, m, "d")
	if len(att.detached) != 1 || !strings.Contains(m.View(), "is not attached live") {
		t.Errorf("d on an instance not attached: %v\n%s", att.detached, m.View())
	}
	att.err = errors.New("3 servers are attached live, the most fleet.max_live allows; detach one first or raise fleet.max_live")
	m = pressRun(t, m, "a")
	if v := m.View(); !strings.Contains(v, "Cannot attach db-000.internal:9187: 3 servers are attached live") || m.mode != modePromFleet {
		t.Errorf("a refused attach:\n%s", v)
	}
	if v := m.View(); !strings.Contains(v, "a attach live and show") || !strings.Contains(v, "d detach live") {
		t.Errorf("the fleet view's help line does not list a and d:\n%s", v)
	}
	var full []string
	for _, b := range m.promFleet.helpGroup().keys {
		full = append(full, b.Help().Key+" "+b.Help().Desc)
	}
	if s := strings.Join(full, ", "); !strings.Contains(s, "a attach live and show") || !strings.Contains(s, "d detach live") {
		t.Errorf("the help page's fleet group: %s", s)
	}
}

// TestFleetViewWithoutAttacher keeps the view as it was: no a / d.
func TestFleetViewWithoutAttacher(t *testing.T) {
	f := fleetFrameAt(12, fixedNow)
	f.Snapshot.PromFleet.Instances[0].Live = "postgres://slotwatch@db-000.internal:5432/postgres"
	m := newTestModel(t, Options{}, f, 140, 30)
	next, cmd := m.Update(keyMsg("a"))
	if msgs := runCmds(cmd); len(msgs) != 0 || strings.Contains(next.(Model).View(), "attach") {
		t.Errorf("a without an Attacher: %v\n%s", msgs, next.(Model).View())
	}
}

func withServers(f analysis.Frame, servers ...collectors.ServerSnapshot) analysis.Frame {
	f.Snapshot.Servers = servers
	return f
}
