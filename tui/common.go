package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

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
	modePicker    // the server list (S)
	modePromFleet // the fleet from Prometheus (F)
	modeTimeline  // the timeline (T)
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

// common is the context every pane draws and acts with: the styles from
// the model's renderer, the options, the clock and the frame on screen,
// which server the fleet pane shows, the mode and the focus. The root model
// owns it and hands each pane a pointer to it before it routes a message or
// composes the view; a pane reads it and never changes it. The one thing a
// pane writes is send: what the root must do before Update returns.
type common struct {
	st   styles
	opts Options
	ctx  context.Context
	// nav and global are the keys every pane shares: the cursor keys of
	// any list, and quit and help, which several views answer.
	nav    navKeys
	global globalKeys

	width, height int
	mode          uiMode
	focus         focus

	// frame is what the panes read: the raw frame projected onto the
	// servers the fleet pane shows (the same frame for a single target).
	frame    analysis.Frame
	hasFrame bool
	frameAt  time.Time // when the frame arrived, on the model's clock
	// firstTakenAt is the first frame's sample time: how long a source
	// that never answered has been DOWN (header).
	firstTakenAt time.Time
	now          time.Time
	paused       bool

	fleet  *fleetPane   // which servers the panes show
	replay *replayState // nil outside replay

	// out are the messages panes sent the root during one Update.
	out []tea.Msg
}

// send asks the root for something only it may do (switch the mode or the
// focus, open a view, say a sentence in the status line). The root handles
// the message before its Update returns, so its effect is on the same
// screen as the key that caused it.
func (c *common) send(msg tea.Msg) { c.out = append(c.out, msg) }

// notify puts one sentence in the status line.
func (c *common) notify(text string) { c.send(noticeMsg{text: text}) }

// Messages any pane may send the root (common.send); each pane declares
// the ones only it sends.
type (
	noticeMsg   struct{ text string }
	setModeMsg  struct{ mode uiMode }
	setFocusMsg struct{ focus focus }
	openHelpMsg struct{ back uiMode }
)

// actionsDisabled is true when nothing may be changed: no Mitigator,
// read-only, or replaying a recording.
func (c *common) actionsDisabled() bool {
	return c.opts.Mitigator == nil || c.opts.Mitigator.ReadOnly() || c.opts.Mode == ModeReplay || c.viewerReadOnly()
}

// viewerReadOnly: a served viewer who is not an operator may watch, never act.
func (c *common) viewerReadOnly() bool { return c.opts.Viewer != nil && !c.opts.Viewer.Operator }

func (c *common) disabledReason() string {
	switch {
	case c.opts.Mode == ModeReplay:
		return "Actions are disabled while replaying a recording."
	case c.viewerReadOnly():
		return fmt.Sprintf("Read-only viewer: %s may watch but not act; ask an operator to run it.", orDash(oneLine(c.opts.Viewer.Name)))
	case c.opts.Mitigator == nil:
		return "Actions are unavailable: no server connection to act on."
	}
	return "Read-only mode: actions are disabled (restart without --read-only to act)."
}

// navigate applies a navigation key to a cursor; false when msg is not one.
func (c *common) navigate(msg tea.KeyMsg, move func(delta int), page int) bool {
	n := c.nav
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

// shownSessions are the sessions of the PostgreSQL server the panes show.
func (c *common) shownSessions() []collectors.Session {
	if pg := c.frame.Snapshot.Postgres; pg != nil {
		return pg.Sessions
	}
	return nil
}

// noData is a pane for a source that has never answered: its title and
// "no data", never an empty table that reads as "nothing is wrong".
func (c *common) noData(title, source string, st srcStatus, w, h int) block {
	lines := []string{c.st.bold.Render(title), c.st.critical.Render("  no data") + " (DOWN " + ageText(st.age) + ")",
		c.st.dim.Render("  " + source + ": no answer")}
	return fitBlock(lines, w, h)
}
