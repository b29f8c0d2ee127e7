package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// component is one pane or view of the console. It owns its state, the
// keys it handles, its help, its size and its view, so that a new pane is
// a new file and not another edit of the root model. The root model routes
// messages (keys to the focused component, frames and ticks to all),
// composes the views and asks the focused component for help.
type component interface {
	// SetSize gives the component the cells it may draw in; View never
	// draws wider or taller.
	SetSize(width, height int)
	// Update handles one message. It changes state only: anything slow is
	// the returned command.
	Update(msg tea.Msg) tea.Cmd
	View() string
	// ShortHelp and FullHelp list the bindings it handles in its current
	// state (bubbles/help.KeyMap): help follows focus.
	help.KeyMap
}

type helpGroup struct {
	title string
	keys  []key.Binding
}

// Every pane and view is a component.
var (
	_ component = (*sessionsPane)(nil)
	_ component = (*groupsPane)(nil)
	_ component = (*redisPane)(nil)
	_ component = (*poolerPane)(nil)
	_ component = (*jobsPane)(nil)
	_ component = (*statesPane)(nil)
	_ component = (*fleetPane)(nil)
	_ component = (*headerPane)(nil)
	_ component = (*findingsView)(nil)
	_ component = (*detailView)(nil)
	_ component = (*confirmDialog)(nil)
	_ component = (*helpScreen)(nil)
	_ component = (*replayState)(nil)
	_ component = (*filterBar)(nil)
	_ component = (*footerPane)(nil)
)
