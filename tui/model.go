package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// Messages the model receives.
type (
	frameMsg   struct{ frame analysis.Frame }
	tickMsg    time.Time
	hookErrMsg struct{ err error }
)

// Model is the root model: it routes messages to the panes (keys to the
// one the mode and focus name, frames and ticks to all), composes their
// views and asks the focused one for help. What the panes share is the
// embedded common; each pane owns its state, keys, help and view.
type Model struct {
	common
	keys        globalKeys
	confirmKeys confirmKeys // the dialog's, also listed in the full help
	help        help.Model
	input       filterBar

	raw analysis.Frame
	// shownPG is the PostgreSQL server the sessions pane holds, to notice
	// a switch.
	shownPG string
	held    *analysis.Frame // newest frame received while paused

	sessions   sessionsPane
	groups     groupsPane
	redis      redisPane
	fleet      fleetPane
	footer     footerPane
	confirm    *confirmDialog
	detail     detailView
	findings   findingsView
	helpScreen helpScreen
	header     headerPane
	states     statesPane
	jobs       jobsPane
	pooler     poolerPane

	// promFleet is the fleet from Prometheus (promfleet.go).
	promFleet promFleetView
	// pendingShow is a server just attached, shown once a frame lists it.
	pendingShow string
	timeline    *timelineView
}

// New builds the root model. ctx bounds the actions it runs; r renders the
// styles (nil: a renderer on Options.Output, without colour if NoColor).
func New(ctx context.Context, opts Options, r *lipgloss.Renderer) Model {
	opts = opts.withDefaults()
	if r == nil {
		r = newRenderer(opts)
	}
	k := newKeys()
	m := Model{common: common{opts: opts, ctx: ctx, st: newStyles(r), nav: k.nav, global: k.global, now: opts.Now()},
		keys: k.global, confirmKeys: k.confirm, help: help.New(), input: newFilterBar(k.filter),
		sessions: newSessionsPane(k.sessions), groups: groupsPane{keys: k.groups}, redis: redisPane{keys: k.redis},
		fleet: newFleetPane(), detail: detailView{keys: k.detail, act: k.sessions},
		findings: findingsView{keys: k.findings, enter: k.sessions.Detail}, helpScreen: helpScreen{keys: k.help}}
	m.st.styleBubbles(&m.help, &m.input.Model)
	m.promFleet = *newPromFleetView(m.st)
	m.promFleet.canAttach = opts.Attacher != nil
	m.timeline = newTimeline(m.st, opts.Mitigator)
	m.footer.setText(opts.Notice)
	if m.actionsDisabled() {
		m.disableActions()
	}
	if len(opts.Frames) > 0 || opts.Mode == ModeReplay {
		m.replay = newReplay(opts.Frames, k.replay)
		m.timeline.load(m.replay.frames)
		if opts.ReplaySpeed > 0 {
			m.replay.speed = opts.ReplaySpeed
		}
		if f, ok := m.replay.frame(); ok {
			m.applyFrame(f, f.Snapshot.TakenAt)
		}
	}
	return m
}

// disableActions greys out every mutating key: read-only and replay show
// them as unavailable instead of failing on press.
func (m *Model) disableActions() {
	for _, b := range []*key.Binding{&m.sessions.keys.Mark, &m.sessions.keys.Cancel, &m.sessions.keys.Terminate,
		&m.sessions.keys.TerminateGroup, &m.sessions.keys.ClearMarks, &m.groups.keys.TerminateGroup, &m.redis.keys.Kill,
		&m.findings.keys.Act, &m.confirmKeys.Instead, &m.detail.act.Cancel, &m.detail.act.Terminate} {
		b.SetEnabled(false)
	}
}

// wire points every pane at this copy's shared context. bubbletea copies
// the model on every Update, so each entry point wires before a pane runs.
func (m *Model) wire() {
	c := &m.common
	c.fleet = &m.fleet
	m.sessions.c, m.groups.c, m.redis.c, m.fleet.c, m.footer.c, m.header.c = c, c, c, c, c, c
	m.states.c, m.jobs.c, m.pooler.c = c, c, c
	m.detail.c, m.findings.c, m.helpScreen.c, m.input.c = c, c, c, c
	if m.confirm != nil {
		m.confirm.c = c
	}
	if m.replay != nil {
		m.replay.c = c
	}
}

// Init starts the clock (data age keeps counting when no frame arrives) and
// the replay player.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tick()}
	if m.replay != nil {
		cmds = append(cmds, m.replay.tickCmd())
	}
	if !m.actionsDisabled() {
		cmds = append(cmds, m.auditCmd())
	}
	return tea.Batch(cmds...)
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update stores state; anything slow runs in a returned command.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.wire()
	cmd := m.update(msg)
	return m, m.drain(cmd)
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.relayout()
		return nil
	case frameMsg:
		if m.paused {
			m.held = &msg.frame
			return nil
		}
		first := !m.hasFrame
		m.applyFrame(msg.frame, m.opts.Now())
		m.onPromFleetFrame(msg, first)
		if m.pendingShow != "" {
			m.showAttached(m.pendingShow)
		}
		return nil
	case tickMsg:
		m.promFleet.Update(msg)
		// A paused display keeps its clock: the frame on screen is as old
		// as when it was frozen, and collection is still running.
		if m.replay == nil && !m.paused {
			m.now = m.opts.Now()
		}
		return tea.Batch(tick(), m.timeline.Update(msg))
	case timelineAuditMsg:
		return m.timeline.Update(msg)
	case replayTickMsg:
		if m.replay == nil {
			return nil
		}
		return m.replay.Update(msg)
	case hookErrMsg:
		m.footer.setError("recording", msg.err)
		return nil
	case AnnounceMsg:
		m.footer.announce(msg.Text, m.opts.Now())
		return nil
	case tea.KeyMsg:
		return m.onKey(msg)
	}
	if m.onAttachMsg(msg) {
		return nil
	}
	return m.onActionMsg(msg)
}

// drain handles what the panes sent during this Update (common.send), in
// order, and batches their commands with cmd.
func (m *Model) drain(cmd tea.Cmd) tea.Cmd {
	cmds := []tea.Cmd{cmd}
	for len(m.out) > 0 {
		msg := m.out[0]
		m.out = m.out[1:]
		cmds = append(cmds, m.handle(msg))
	}
	m.out = nil
	return tea.Batch(cmds...)
}

// handle does what a pane asked the root for.
func (m *Model) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case noticeMsg:
		m.footer.setText(msg.text)
	case setModeMsg:
		m.mode = msg.mode
	case closeDialogMsg:
		m.mode, m.confirm = msg.back, nil
	case setFocusMsg:
		m.focus = msg.focus
	case openHelpMsg:
		m.mode = modeHelp
		m.helpScreen.open(msg.back)
	case openFindingsAt:
		m.openFindings(msg.sel)
	case showServerMsg:
		m.showServer(msg.name)
	case openDetailMsg:
		m.detail.open(msg.session, msg.server)
		m.mode = modeDetail
	case openFilterMsg:
		m.mode = modeFilter
		return m.input.open(msg.text)
	case filterTextMsg:
		m.sessions.setText(msg.text)
	case scopeSessionsMsg:
		m.sessions.setScope(msg.scope)
		m.focus = focusSessions
	case terminateGroupMsg:
		// The session's group as the groups pane shows it now.
		return m.common.askGroup(msg.group, m.groups.byClient)
	case replayFrameMsg:
		m.applyFrame(msg.frame, msg.at)
	}
	return nil
}

// applyFrame makes f the displayed frame; at is when it arrived.
func (m *Model) applyFrame(f analysis.Frame, at time.Time) {
	m.wire()
	if m.firstTakenAt.IsZero() || f.Snapshot.TakenAt.Before(m.firstTakenAt) {
		m.firstTakenAt = f.Snapshot.TakenAt
	}
	m.raw, m.hasFrame, m.frameAt = f, true, at
	if m.replay != nil {
		m.now = at
	}
	m.timeline.follow(f, at)
	if note := m.fleet.setFrame(f); note != "" {
		m.footer.setText(note)
	}
	m.showServers()
}

// showServers projects the raw frame onto the servers the fleet pane
// shows and hands the panes their data. A change of PostgreSQL server
// drops the marks: they are backends of the other server.
func (m *Model) showServers() {
	before := m.shownPG
	m.frame = m.fleet.project(m.raw)
	m.shownPG = m.fleet.shownName(collectors.SourcePostgres)
	if m.shownPG != before {
		clear(m.sessions.marks)
	}
	f := m.frame
	if pg := f.Snapshot.Postgres; pg != nil {
		m.sessions.setSessions(pg.Sessions)
		m.groups.setFrame(pg.Groups, pg.Sessions)
	} else {
		m.sessions.setSessions(nil)
		m.groups.setFrame(nil, nil)
	}
	m.redis.set(f.Snapshot.Redis)
	m.relayout()
}

// relayout tells the panes how many rows they get.
func (m *Model) relayout() {
	l := m.layout()
	m.sessions.setVisible(l.sessions - 2)
	m.fleet.SetSize(m.width, l.fleet)
	m.timeline.SetSize(m.width, m.height-2) // its screen's title and help lines
}

func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	if msg.String() == "ctrl+c" {
		return tea.Quit
	}
	switch m.mode {
	case modeHelp:
		m.prepareHelp()
		return m.helpScreen.Update(msg)
	case modeFindings:
		m.sizeFindings()
		return m.findings.Update(msg)
	case modePicker:
		return m.fleet.Update(msg)
	case modeConfirm:
		return m.confirm.Update(msg)
	case modeFilter:
		return m.input.Update(msg)
	case modeDetail:
		return m.detail.Update(msg)
	case modePromFleet:
		return m.onPromFleetKey(msg)
	case modeTimeline:
		return m.onTimelineKey(msg)
	}
	return m.onNormalKey(msg)
}

// onNormalKey is the dashboard: the global keys, then the keys the replay
// bar and the fleet claim, then the focused pane.
func (m *Model) onNormalKey(msg tea.KeyMsg) tea.Cmd {
	g := m.keys
	switch {
	case key.Matches(msg, g.Quit):
		return tea.Quit
	case key.Matches(msg, g.Help):
		m.mode = modeHelp
		m.helpScreen.open(modeNormal)
		return nil
	case key.Matches(msg, m.findings.keys.Open):
		m.openFindings(m.findings.sel)
		return nil
	case key.Matches(msg, m.timeline.keys.Open):
		m.mode = modeTimeline
		return m.timeline.setOpen(true, m.now)
	case m.replay != nil:
		if m.replay.claims(msg) {
			return m.replay.Update(msg)
		}
	case key.Matches(msg, g.Pause):
		m.togglePause()
		return nil
	}
	if m.fleet.claims(msg) {
		return m.fleet.Update(msg)
	}
	if m.onPromFleetOpenKey(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, g.Focus):
		m.focus = (m.focus + 1) % numFocus
		return nil
	case key.Matches(msg, g.FocusBack):
		m.focus = (m.focus + numFocus - 1) % numFocus
		return nil
	}
	if m.actionsDisabled() && isActionKey(msg.String()) {
		return m.refuseAction(actionKeyName(msg.String()))
	}
	if key.Matches(msg, m.sessions.keys.ClearFilter) && m.sessions.filtered() {
		// Esc clears the sessions filters from any pane (k9s habit).
		m.sessions.clearFilters()
		m.input.SetValue("")
		m.footer.setText("Filters cleared.")
		return nil
	}
	if m.focus == focusFindings {
		m.findings.headerLines = m.layout().findings
	}
	return m.focused().Update(msg)
}

// focused is the pane the navigation and action keys go to.
func (m *Model) focused() component {
	switch m.focus {
	case focusGroups:
		return &m.groups
	case focusRedis:
		return &m.redis
	case focusFindings:
		return &m.findings
	}
	return &m.sessions
}

func (m *Model) togglePause() {
	m.paused = !m.paused
	if m.paused {
		return
	}
	m.now = m.opts.Now()
	if m.held != nil {
		m.applyFrame(*m.held, m.now)
		m.held = nil
	}
}

// askSessions previews a cancel or terminate of the given sessions of the
// shown server as the sessions table's keys do.
func (m Model) askSessions(kind actions.Kind, targets []sessionTarget) (tea.Model, tea.Cmd) {
	m.wire()
	cmd := m.common.askSessions(kind, targets)
	return m, m.drain(cmd)
}

// openFindings shows the findings view with finding i selected.
func (m *Model) openFindings(i int) {
	m.wire()
	m.findings.selectFinding(m.findings.findingsList(), i)
	m.mode = modeFindings
}

// findingsList is the findings in the order the view lists them.
func (m *Model) findingsList() []analysis.Finding {
	m.wire()
	return m.findings.findingsList()
}

// showServer switches the detailed panes of the server's kind to it.
func (m *Model) showServer(name string) {
	s, ok := m.fleet.selectName(name)
	if !ok {
		return
	}
	if s.Kind == collectors.SourceRedis {
		m.redis.top()
	} else {
		m.sessions.top()
		m.groups.top()
	}
	m.showServers()
	m.relayout()
	m.footer.setText(fmt.Sprintf("Showing %s %s.", kindWord(s), oneLine(s.Name)))
}
