package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// uiMode is what the keyboard currently talks to.
type uiMode int

const (
	modeNormal uiMode = iota
	modeFilter
	modeConfirm
	modeDetail
	modeHelp
	modeFindings
	modePicker // the server list (S)
	modeTimeline
)

// focus is the pane the navigation and action keys apply to.
type focus int

const (
	focusSessions focus = iota
	focusGroups
	focusRedis
	focusFindings // the finding lines of the header: Enter opens the findings view
	numFocus
)

// Messages the model receives.
type (
	frameMsg   struct{ frame analysis.Frame }
	tickMsg    time.Time
	hookErrMsg struct{ err error }
)

// Model is the root model: it routes keys by mode and focus and delegates
// state and rendering to the panes.
type Model struct {
	opts  Options
	ctx   context.Context
	st    styles
	keys  keys
	help  help.Model
	input textinput.Model

	width, height int
	mode          uiMode
	focus         focus

	// frame is what the panes read: raw projected onto the servers the
	// fleet pane shows (the same frame for a single target).
	frame    analysis.Frame
	raw      analysis.Frame
	hasFrame bool
	frameAt  time.Time // when the frame arrived, on the model's clock
	// shownPG is the PostgreSQL server the sessions pane holds, to notice
	// a switch.
	shownPG string
	// firstTakenAt is the first frame's sample time: how long a source
	// that never answered has been DOWN (header).
	firstTakenAt time.Time
	now          time.Time
	paused       bool
	held         *analysis.Frame // newest frame received while paused

	sessions sessionsPane
	groups   groupsPane
	redis    redisPane
	fleet    fleetPane
	footer   footerPane
	confirm  *confirmDialog
	detail   detailView
	findings findingsView
	replay   *replayState
	timeline *timelineView
	// helpBack is the mode the full help returns to.
	helpBack uiMode
	helpPage int
}

// New builds the root model. ctx bounds the actions it runs; r renders the
// styles (nil: a renderer on Options.Output, without colour if NoColor).
func New(ctx context.Context, opts Options, r *lipgloss.Renderer) Model {
	opts = opts.withDefaults()
	if r == nil {
		r = newRenderer(opts)
	}
	m := Model{opts: opts, ctx: ctx, st: newStyles(r), keys: newKeys(), help: help.New(),
		input: textinput.New(), sessions: newSessionsPane(), fleet: newFleetPane(), now: opts.Now()}
	m.st.styleBubbles(&m.help, &m.input)
	m.timeline = newTimeline(m.st, opts.Mitigator)
	m.footer.setText(opts.Notice)
	m.input.Prompt = "/"
	m.input.Placeholder = "pid, user, application, client, state or query"
	m.input.CharLimit = 200
	if m.actionsDisabled() {
		m.keys.disableActions()
	}
	if len(opts.Frames) > 0 || opts.Mode == ModeReplay {
		m.replay = newReplay(opts.Frames)
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

// actionsDisabled is true when nothing may be changed: no Mitigator,
// read-only, or replaying a recording.
func (m *Model) actionsDisabled() bool {
	return m.opts.Mitigator == nil || m.opts.Mitigator.ReadOnly() || m.opts.Mode == ModeReplay || m.viewerReadOnly()
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
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.relayout()
		return m, nil
	case frameMsg:
		if m.paused {
			m.held = &msg.frame
			return m, nil
		}
		m.applyFrame(msg.frame, m.opts.Now())
		return m, nil
	case tickMsg:
		// A paused display keeps its clock: the frame on screen is as old
		// as when it was frozen, and collection is still running.
		if m.replay == nil && !m.paused {
			m.now = m.opts.Now()
		}
		return m, tea.Batch(tick(), m.timeline.Update(msg))
	case timelineAuditMsg:
		return m, m.timeline.Update(msg)
	case replayTickMsg:
		return m.onReplayTick(msg)
	case hookErrMsg:
		m.footer.setError("recording", msg.err)
		return m, nil
	case AnnounceMsg:
		m.footer.announce(msg.Text, m.opts.Now())
		return m, nil
	case tea.KeyMsg:
		return m.onKey(msg)
	}
	return m.onActionMsg(msg)
}

// applyFrame makes f the displayed frame; at is when it arrived.
func (m *Model) applyFrame(f analysis.Frame, at time.Time) {
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
	if r := f.Snapshot.Redis; r != nil && r.Cluster { // l also lists the nodes
		m.keys.redis.Clients.SetHelp("l", "groups/clients/nodes")
	} else {
		m.keys.redis.Clients.SetHelp("l", "groups/clients")
	}
	m.relayout()
}

// relayout tells the panes how many rows they get.
func (m *Model) relayout() {
	l := m.layout()
	m.sessions.setVisible(l.sessions - 2)
	m.fleet.SetSize(m.width, l.fleet)
	m.timeline.SetSize(m.width, m.height-2) // its screen's title and help lines
}

func (m Model) onKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	switch m.mode {
	case modeHelp:
		return m.onHelpKey(msg)
	case modeFindings:
		return m.onFindingsKey(msg)
	case modePicker:
		return m.onPickerKey(msg)
	case modeConfirm:
		return m.onConfirmKey(msg)
	case modeFilter:
		return m.onFilterKey(msg)
	case modeDetail:
		return m.onDetailKey(msg)
	case modeTimeline:
		return m.onTimelineKey(msg)
	}
	return m.onNormalKey(msg)
}

func (m Model) onNormalKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	g := m.keys.global
	switch {
	case key.Matches(msg, g.Quit):
		return m, tea.Quit
	case key.Matches(msg, g.Help):
		m.mode, m.helpBack, m.helpPage = modeHelp, modeNormal, 0
		return m, nil
	case key.Matches(msg, m.keys.findings.Open):
		m.openFindings(m.findings.sel)
		return m, nil
	case key.Matches(msg, m.timeline.keys.Open):
		return m.openTimeline()
	case m.replay != nil:
		if handled, cmd := m.onReplayKey(msg); handled {
			return m, cmd
		}
	case key.Matches(msg, g.Pause):
		m.togglePause()
		return m, nil
	}
	if handled, cmd := m.onFleetKey(msg); handled {
		return m, cmd
	}
	switch {
	case key.Matches(msg, g.Focus):
		m.focus = (m.focus + 1) % numFocus
		return m, nil
	case key.Matches(msg, g.FocusBack):
		m.focus = (m.focus + numFocus - 1) % numFocus
		return m, nil
	}
	if m.actionsDisabled() && isActionKey(msg.String()) {
		return m.refuseAction(actionKeyName(msg.String()))
	}
	if key.Matches(msg, m.keys.sessions.ClearFilter) && m.sessions.filtered() {
		// Esc clears the sessions filters from any pane (k9s habit).
		m.sessions.clearFilters()
		m.input.SetValue("")
		m.footer.setText("Filters cleared.")
		return m, nil
	}
	switch m.focus {
	case focusGroups:
		return m.onGroupsKey(msg)
	case focusRedis:
		return m.onRedisKey(msg)
	case focusFindings:
		return m.onFindingLineKey(msg)
	}
	return m.onSessionsKey(msg)
}

func (m Model) onHelpKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	h := m.keys.help
	switch {
	case key.Matches(msg, m.keys.global.Help, h.Close, m.keys.global.Quit):
		m.mode = m.helpBack
	case key.Matches(msg, h.Next):
		m.helpPage = min(m.helpPage+1, len(m.helpPagesFor(m.width, m.height-1))-1)
	case key.Matches(msg, h.Prev):
		m.helpPage = max(m.helpPage-1, 0)
	}
	return m, nil
}

func isActionKey(k string) bool {
	return actionKeyName(k) != ""
}

// actionKeyName names what an action key would have done, for the
// refusal's audit line; "" for keys that change nothing.
func actionKeyName(k string) string {
	switch k {
	case "C":
		return "cancel"
	case "K":
		return "terminate"
	case "G":
		return "terminate group"
	case "X":
		return "redis-kill"
	case " ":
		return "mark"
	case "u":
		return "unmark"
	}
	return ""
}

// viewerReadOnly: a served viewer who is not an operator may watch, never act.
func (m *Model) viewerReadOnly() bool { return m.opts.Viewer != nil && !m.opts.Viewer.Operator }

func (m *Model) disabledReason() string {
	switch {
	case m.opts.Mode == ModeReplay:
		return "Actions are disabled while replaying a recording."
	case m.viewerReadOnly():
		return fmt.Sprintf("Read-only viewer: %s may watch but not act; ask an operator to run it.", orDash(oneLine(m.opts.Viewer.Name)))
	case m.opts.Mitigator == nil:
		return "Actions are unavailable: no server connection to act on."
	}
	return "Read-only mode: actions are disabled (restart without --read-only to act)."
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

// navigate applies a navigation key to a cursor; false when msg is not one.
func (m *Model) navigate(msg tea.KeyMsg, move func(delta int), page int) bool {
	n := m.keys.nav
	switch {
	case key.Matches(msg, n.Up):
		move(-1)
	case key.Matches(msg, n.Down):
		move(1)
	case key.Matches(msg, n.PageUp):
		move(-max(page, 1))
	case key.Matches(msg, n.PageDown):
		move(max(page, 1))
	case key.Matches(msg, n.Top):
		move(-1 << 30)
	case key.Matches(msg, n.Bottom):
		move(1 << 30)
	default:
		return false
	}
	return true
}

func (m Model) onSessionsKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	p := &m.sessions
	if m.navigate(msg, func(d int) { p.setCursor(p.cursor + d) }, p.visible) {
		return m, nil
	}
	k := m.keys.sessions
	switch {
	case key.Matches(msg, k.Detail):
		if s := p.current(); s != nil {
			m.detail = detailView{key: s.Key(), session: *s, server: m.pgTarget()}
			m.mode = modeDetail
		}
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
		m.input.SetValue(p.text)
		m.input.CursorEnd()
		return m, m.input.Focus()
	case key.Matches(msg, k.Sort):
		p.nextSort()
	case key.Matches(msg, k.Reverse):
		p.desc = !p.desc
		p.refresh()
	case key.Matches(msg, k.Active):
		p.setStateFilter(onlyActive)
	case key.Matches(msg, k.Idle):
		p.setStateFilter(onlyIdle)
	case key.Matches(msg, k.IdleTx):
		p.setStateFilter(onlyIdleTx)
	case key.Matches(msg, k.Waiting):
		p.setStateFilter(onlyWaiting)
	case key.Matches(msg, k.AllStates):
		p.setStateFilter("")
	case key.Matches(msg, k.Mark):
		p.toggleMark()
	case key.Matches(msg, k.ClearMarks):
		clear(p.marks)
	case key.Matches(msg, k.Cancel):
		return m.askSessions(kindCancel, p.targets())
	case key.Matches(msg, k.Terminate):
		return m.askSessions(kindTerminate, p.targets())
	case key.Matches(msg, k.TerminateGroup):
		// The session's group as the groups pane shows it now.
		if s := p.current(); s != nil {
			return m.askGroup(groupOfSession(s), m.groups.byClient)
		}
	}
	return m, nil
}

func (m Model) onGroupsKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if m.navigate(msg, m.groups.move, 5) {
		return m, nil
	}
	k := m.keys.groups
	switch {
	case key.Matches(msg, k.TerminateGroup):
		if g := m.groups.current(); g != nil {
			sc, _ := m.groups.scope()
			return m.askGroup(*g, sc.byClient)
		}
	case key.Matches(msg, k.ByClient):
		m.groups.toggleClient()
	case key.Matches(msg, k.Filter):
		if sc, ok := m.groups.scope(); ok {
			m.sessions.setScope(sc)
			m.focus = focusSessions
			m.footer.setText("Sessions of " + sc.label() + " (Esc shows all).")
		}
	}
	return m, nil
}

func (m Model) onRedisKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if m.navigate(msg, m.redis.move, 5) {
		return m, nil
	}
	switch {
	case key.Matches(msg, m.keys.redis.Clients):
		m.redis.toggleClients()
	case key.Matches(msg, m.keys.redis.Kill):
		return m.askRedis()
	}
	return m, nil
}

func (m Model) onFilterKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.filter.Apply):
		m.mode = modeNormal
		m.input.Blur()
		return m, nil
	case key.Matches(msg, m.keys.filter.Clear):
		m.mode = modeNormal
		m.input.Blur()
		m.input.SetValue("")
		m.sessions.text = ""
		m.sessions.refresh()
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.sessions.text = m.input.Value()
	m.sessions.refresh()
	return m, cmd
}

func (m Model) onDetailKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.global.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.detail.Back):
		m.mode = modeNormal
	case m.actionsDisabled() && isActionKey(msg.String()):
		return m.refuseAction(actionKeyName(msg.String()))
	case key.Matches(msg, m.keys.sessions.Cancel):
		return m.askSessionsOn(m.detail.server, kindCancel, []sessionTarget{m.detail.session})
	case key.Matches(msg, m.keys.sessions.Terminate):
		return m.askSessionsOn(m.detail.server, kindTerminate, []sessionTarget{m.detail.session})
	case m.navigate(msg, func(d int) { m.detail.scroll = max(0, m.detail.scroll+d) }, 10):
	}
	return m, nil
}
