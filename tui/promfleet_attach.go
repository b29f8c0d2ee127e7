package tui

import (
	"context"
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// Attacher starts and stops slotwatch's live collectors on one instance of
// the fleet while the console runs (collectors.Set implements it). Both
// calls do I/O, so the dashboard makes them in a tea.Cmd, never in Update.
type Attacher interface {
	Attach(ctx context.Context, in collectors.FleetInstance) (collectors.ServerInfo, error)
	Detach(ctx context.Context, name string) error
}

// attachKeys are the fleet view's live drill-down keys.
type attachKeys struct{ Attach, Detach key.Binding }

func newAttachKeys() attachKeys {
	return attachKeys{
		Attach: bind([]string{"a"}, "a", "attach live and show"),
		Detach: bind([]string{"d"}, "d", "detach live"),
	}
}

// attachedMsg and detachedMsg carry the Attacher's answers back to Update.
type attachedMsg struct {
	info collectors.ServerInfo
	in   string // the instance as the view names it
	err  error
}

type detachedMsg struct {
	name string
	err  error
}

// liveNameOf is the name the instance has, or would have, once attached:
// its live target's host:port (collectors.LiveName), "" without a target.
func liveNameOf(in *collectors.FleetInstance) string {
	if in.Live == "" {
		return ""
	}
	kind := collectors.SourcePostgres
	if in.Kind == collectors.FleetRedis {
		kind = collectors.SourceRedis
	}
	return collectors.LiveName(kind, in.Live)
}

// onAttachKey handles a and d in the fleet view; false when msg is
// neither or attaching is not wired.
func (m *Model) onAttachKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	v := &m.promFleet
	att := m.opts.Attacher
	if att == nil || v.filtering {
		return nil, false
	}
	attach, detach := key.Matches(msg, v.attach.Attach), key.Matches(msg, v.attach.Detach)
	if !attach && !detach {
		return nil, false
	}
	in := v.selected()
	if in == nil {
		return nil, true
	}
	name, label, ctx := liveNameOf(in), fleetName(in), m.ctx
	switch {
	case attach && v.attached[name]:
		m.showAttached(name)
		return nil, true
	case attach:
		v.note = fmt.Sprintf("Attaching live collectors to %s…", label)
		inst := *in
		return func() tea.Msg {
			info, err := att.Attach(ctx, inst)
			return attachedMsg{info: info, in: label, err: err}
		}, true
	case !v.attached[name]:
		v.note = fmt.Sprintf("%s is not attached live; a attaches it.", label)
		return nil, true
	default:
		v.note = fmt.Sprintf("Detaching %s…", name)
		return func() tea.Msg { return detachedMsg{name: name, err: att.Detach(ctx, name)} }, true
	}
}

// onAttachMsg takes the Attacher's answer: an attached server is shown on
// the dashboard as soon as a frame lists it.
func (m *Model) onAttachMsg(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case attachedMsg:
		if msg.err != nil {
			m.promFleet.note = fmt.Sprintf("Cannot attach %s: %v", msg.in, msg.err)
			return true
		}
		m.promFleet.note = fmt.Sprintf("Attached %s as %s (one connection); d detaches it.", msg.in, msg.info.Name)
		m.pendingShow = msg.info.Name
		m.showAttached(msg.info.Name)
	case detachedMsg:
		if msg.err != nil {
			m.promFleet.note = fmt.Sprintf("Cannot detach %s: %v", msg.name, msg.err)
		} else {
			m.promFleet.note = fmt.Sprintf("Detached %s; its connection is closed.", msg.name)
		}
	default:
		return false
	}
	return true
}

// showAttached switches the dashboard to the attached server once the
// frames list it; until then it stays pending.
func (m *Model) showAttached(name string) {
	m.pendingShow = name
	if m.fleet.server(name) == nil {
		return
	}
	m.pendingShow = ""
	m.mode = modeNormal
	m.showServer(name)
}
