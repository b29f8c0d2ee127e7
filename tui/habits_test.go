package tui

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/charmbracelet/bubbles/key"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
)

// TestGroupsByApplicationAndClientToggle: the pane shows one row per
// application/user/database; c splits by client address with the one
// grouping rule, and G then acts on the client row's scope only.
func TestGroupsByApplicationAndClientToggle(t *testing.T) {
	frame := incidentFrame(t)
	sessions := frame.Snapshot.Postgres.Sessions
	mit := &fakeMitigator{sessions: sessions}
	m := newTestModel(t, Options{Mitigator: mit}, frame, 120, 40)
	m = update(m, keyMsg("tab"))
	if g := m.groups.current(); g == nil || g.ClientAddr != "" || len(m.groups.groups) != len(collectors.GroupSessions(sessions, false)) {
		t.Fatalf("default groups are application/user/database: %+v", m.groups.groups)
	}
	m = update(m, keyMsg("c"))
	split := collectors.GroupSessions(sessions, true)
	if !m.groups.byClient || len(m.groups.groups) != len(split) || !strings.Contains(m.View(), "Groups by client (") {
		t.Fatalf("c should split the groups by client: %d rows, want %d", len(m.groups.groups), len(split))
	}
	g := m.groups.current()
	if g.ApplicationName != "talentflow-web" || g.ClientAddr == "" {
		t.Fatalf("the cursor should stay on talentflow-web, on its first client row: %+v", g)
	}
	next, cmd := m.Update(keyMsg("G"))
	msg := cmd().(planMsg)
	if f := msg.plan.(actions.SessionPlan).Request.Filter; f.Client != g.ClientAddr || f.App != "talentflow-web" {
		t.Fatalf("G on a client row must name its client: %+v", f)
	}
	m = update(next.(Model), msg)
	for _, b := range m.confirm.session().Targets {
		if b.ClientAddr != g.ClientAddr {
			t.Fatalf("target %d from %s outside the row's client %s", b.PID, b.ClientAddr, g.ClientAddr)
		}
	}
	m = update(m, keyMsg("n"))
	m = update(m, keyMsg("c"))
	if m.groups.byClient || m.groups.current().ClientAddr != "" {
		t.Fatal("c again should merge the client rows back")
	}
}

// TestEnterOnGroupFiltersSessions: Enter shows exactly the group's
// sessions; Esc clears every filter at once.
func TestEnterOnGroupFiltersSessions(t *testing.T) {
	frame := incidentFrame(t)
	m := newTestModel(t, Options{}, frame, 120, 40)
	m = update(m, keyMsg("tab"))
	m = update(m, keyMsg("down")) // the second group
	want := *m.groups.current()
	m = update(m, keyMsg("enter"))
	if m.focus != focusSessions || m.sessions.scope == nil {
		t.Fatalf("enter should filter the sessions to the group and focus them")
	}
	if len(m.sessions.rows) != want.Total {
		t.Fatalf("%d sessions shown, the group has %d", len(m.sessions.rows), want.Total)
	}
	for _, r := range m.sessions.rows {
		s := m.sessions.all[r]
		if s.ApplicationName != want.ApplicationName || s.Usename != want.Usename || s.Datname != want.Datname {
			t.Fatalf("session %d outside the group %+v", s.PID, want)
		}
	}
	if v := m.View(); !strings.Contains(v, "· group "+want.ApplicationName) {
		t.Fatalf("the title should name the group filter:\n%s", v)
	}
	m = update(m, keyMsg("i"))
	m = update(m, keyMsg("esc"))
	if m.sessions.filtered() || len(m.sessions.rows) != len(frame.Snapshot.Postgres.Sessions) {
		t.Fatalf("esc should clear the group and state filters, %d rows", len(m.sessions.rows))
	}
}

func TestEscClearsTextFilter(t *testing.T) {
	m := newTestModel(t, Options{}, incidentFrame(t), 120, 40)
	m = update(m, keyMsg("/"))
	m = update(m, keyMsg("celery"))
	m = update(m, keyMsg("enter")) // keep it
	if len(m.sessions.rows) != 3 {
		t.Fatalf("filter kept %d rows", len(m.sessions.rows))
	}
	m = update(m, keyMsg("esc"))
	if m.sessions.text != "" || len(m.sessions.rows) != 92 || m.input.Value() != "" {
		t.Fatalf("esc on the table should clear the kept filter: %q, %d rows", m.sessions.text, len(m.sessions.rows))
	}
	// From another pane too.
	m = update(update(m, keyMsg("i")), keyMsg("tab"))
	m = update(update(m, keyMsg("tab")), keyMsg("esc"))
	if m.focus != focusRedis || m.sessions.filtered() {
		t.Fatalf("esc in the Redis pane should clear the sessions filters (focus %d, state %q)", m.focus, m.sessions.state)
	}
}

// TestSortByHiddenColumnIsNamed: at 80 columns USER is not shown; sorting
// by it says so in the title.
func TestSortByHiddenColumnIsNamed(t *testing.T) {
	m := newTestModel(t, Options{}, incidentFrame(t), 80, 24)
	for m.sessions.sortCol != colUser {
		m = update(m, keyMsg("s"))
	}
	v := m.View()
	if !strings.Contains(v, "sorted by USER ▲") {
		t.Fatalf("a sort by a hidden column must be named in the title:\n%s", v)
	}
	m = update(m, keyMsg("r"))
	if !strings.Contains(m.View(), "sorted by USER ▼") {
		t.Fatal("reversing shows ▼")
	}
	for m.sessions.sortCol != colInState {
		m = update(m, keyMsg("s"))
	}
	if strings.Contains(m.View(), "sorted by") {
		t.Fatal("a visible sort column carries its own arrow; no note")
	}
}

func TestDetailOffersNoActionsWhenReadOnly(t *testing.T) {
	for _, opts := range []Options{
		{Mitigator: &fakeMitigator{readOnly: true}},
		{Mitigator: &fakeMitigator{}, Viewer: &Viewer{Name: "marcus"}},
	} {
		m := newTestModel(t, opts, incidentFrame(t), 120, 40)
		m = update(m, keyMsg("enter"))
		v := m.View()
		if m.mode != modeDetail || strings.Contains(v, "C cancel") || strings.Contains(v, "K terminate") {
			t.Fatalf("the detail view must not offer C/K when actions are disabled:\n%s", v)
		}
	}
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, incidentFrame(t), 120, 40)
	if v := update(m, keyMsg("enter")).View(); !strings.Contains(v, "C cancel · K terminate") {
		t.Fatal("with actions available the detail view offers C/K")
	}
}

// TestHelpIsCompleteAt80x24: every key of every group is on some page,
// whole, at the minimum size; the pages include the keys people look for.
func TestHelpIsCompleteAt80x24(t *testing.T) {
	for _, opts := range []Options{{Mitigator: &fakeMitigator{}}, {Mode: ModeReplay}} {
		m := newTestModel(t, opts, incidentFrame(t), 80, 24)
		m = update(m, keyMsg("?"))
		var pages []string
		for i := 0; i < 10; i++ {
			v := m.View()
			checkScreen(t, v, 80, 24)
			if len(pages) > 0 && v == pages[len(pages)-1] {
				break
			}
			pages = append(pages, v)
			m = update(m, keyMsg("right"))
		}
		all := strings.Join(pages, "\n")
		if strings.Contains(all, "…") {
			t.Fatalf("help is cut:\n%s", all)
		}
		for _, g := range m.helpGroups() {
			if !strings.Contains(all, g.title) {
				t.Fatalf("help lacks the group %q", g.title)
			}
			for _, b := range g.keys {
				if !containsEntry(all, b) {
					t.Fatalf("help lacks %q %q:\n%s", b.Help().Key, b.Help().Desc, all)
				}
			}
		}
		for _, want := range []string{"shift+tab", "ctrl+c", "terminate instead of cancel", "+1 min", "faster"} {
			if !strings.Contains(all, want) {
				t.Fatalf("help lacks %q", want)
			}
		}
		m = update(m, keyMsg("esc"))
		if m.mode != modeNormal {
			t.Fatal("esc closes the help")
		}
	}
}

func containsEntry(screen string, b key.Binding) bool {
	h := b.Help()
	for _, l := range strings.Split(screen, "\n") {
		if i := strings.Index(l, " "+h.Key+" "); i >= 0 && strings.Contains(l[i:], h.Desc) {
			return true
		}
	}
	return false
}

// refusingMitigator records the refusals the dashboard audits.
type refusingMitigator struct {
	*fakeMitigator
	mu      sync.Mutex
	refused []string
}

func (r *refusingMitigator) Refuse(_ context.Context, action, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = append(r.refused, action+": "+reason)
	return nil
}

// TestViewerIsReadOnly: a served viewer who is not an operator acts on
// nothing whatever it presses; each refusal is visible and audited.
func TestViewerIsReadOnly(t *testing.T) {
	frame := findingsFrame(t)
	mit := &refusingMitigator{fakeMitigator: &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions}}
	m := newTestModel(t, Options{Mitigator: mit, Viewer: &Viewer{Name: "marcus", Operator: false}}, frame, 120, 40)
	press := func(k string) {
		t.Helper()
		next, cmd := m.Update(keyMsg(k))
		m = next.(Model)
		if cmd == nil {
			t.Fatalf("%q: the refusal should be audited", k)
		}
		msg := cmd()
		if _, ok := msg.(refusedMsg); !ok {
			t.Fatalf("%q ran %T instead of a refusal", k, msg)
		}
		m = update(m, msg)
		if m.mode == modeConfirm || !strings.Contains(m.View(), "Read-only viewer: marcus may watch but not act") {
			t.Fatalf("%q must be refused visibly:\n%s", k, m.View())
		}
	}
	for _, k := range []string{"K", "C", "G", " ", "u"} {
		press(k)
	}
	m = update(m, keyMsg("tab"))
	press("G")
	m = update(m, keyMsg("tab"))
	press("X")
	m = update(m, keyMsg("f"))
	press("m")
	press("2")
	m = update(m, keyMsg("esc"))
	m = update(update(m, keyMsg("tab")), keyMsg("tab")) // back to the sessions
	m = update(m, keyMsg("enter"))
	if m.mode != modeDetail {
		t.Fatalf("enter should open the detail view, mode %d", m.mode)
	}
	press("K")
	mit.mu.Lock()
	refused := len(mit.refused)
	mit.mu.Unlock()
	if refused != 10 {
		t.Fatalf("want 10 audited refusals, got %d: %v", refused, mit.refused)
	}
	if len(mit.executed)+len(mit.declined)+len(mit.guards)+len(mit.redisDone) != 0 {
		t.Fatal("a viewer must never reach a preview or an action")
	}

	op := newTestModel(t, Options{Mitigator: mit, Viewer: &Viewer{Name: "kim", Operator: true}}, frame, 120, 40)
	_, cmd := op.Update(keyMsg("K"))
	if _, ok := cmd().(planMsg); !ok || op.actionsDisabled() {
		t.Fatal("an operator viewer may act")
	}
}

// TestReadOnlyRefusalsAreAudited: with the real actions.Service in
// read-only mode, and as a served viewer, an action key writes a refused
// line naming the action, and the audit pane shows it.
func TestReadOnlyRefusalsAreAudited(t *testing.T) {
	sim := demo.New(demo.Options{Seed: 7})
	audit, err := actions.OpenAuditLog("")
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	policy := actions.DefaultPolicy()
	policy.ReadOnly = true
	ro := actions.NewService(sim.PGDriver(), sim.RedisDriver(), policy, audit, actions.Operator{User: "oncall"})
	viewer := actions.NewService(sim.PGDriver(), sim.RedisDriver(), actions.DefaultPolicy(), audit,
		actions.Operator{User: "marcus"}).AsViewer()
	frame := analysis.NewPipeline(analysis.DefaultRules()).Step(sim.Snapshot())
	for _, c := range []struct {
		opts Options
		user string
	}{
		{Options{Mitigator: ro}, "oncall"},
		{Options{Mitigator: viewer, Viewer: &Viewer{Name: "marcus"}}, "marcus"},
	} {
		m := newTestModel(t, c.opts, frame, 120, 40)
		next, cmd := m.Update(keyMsg("K"))
		m = update(next.(Model), cmd())
		if m.footer.isError {
			t.Fatalf("a refusal is not an error: %q", m.footer.text)
		}
		m = update(m, m.auditCmd()())
		es := audit.Recent(1)
		if len(es) != 1 || es[0].Phase != actions.PhaseRefused || es[0].Action != "terminate" || es[0].Operator.User != c.user {
			t.Fatalf("want a refused terminate by %s, got %+v", c.user, es)
		}
		if v := m.View(); !strings.Contains(v, "terminate refused") {
			t.Fatalf("the audit pane should show the refusal:\n%s", v)
		}
	}
}
