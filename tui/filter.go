package tui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// filterBar is the sessions table's text filter while it is typed (/):
// each keystroke narrows the table at once, Enter keeps the filter and Esc
// clears it.
type filterBar struct {
	textinput.Model
	c    *common
	keys filterKeys
}

func newFilterBar(keys filterKeys) filterBar {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "pid, user, application, client, state or query"
	in.CharLimit = 200
	return filterBar{Model: in, keys: keys}
}

// open starts typing from the filter the table has.
func (f *filterBar) open(text string) tea.Cmd {
	f.SetValue(text)
	f.CursorEnd()
	return f.Focus()
}

// SetSize: the filter is typed into the sessions table's title.
func (f *filterBar) SetSize(int, int) {}

// Update edits the filter and hands every change to the table.
func (f *filterBar) Update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(km, f.keys.Apply):
			f.c.send(setModeMsg{mode: modeNormal})
			f.Blur()
			return nil
		case key.Matches(km, f.keys.Clear):
			f.c.send(setModeMsg{mode: modeNormal})
			f.Blur()
			f.SetValue("")
			f.c.send(filterTextMsg{text: ""})
			return nil
		}
	}
	var cmd tea.Cmd
	f.Model, cmd = f.Model.Update(msg)
	f.c.send(filterTextMsg{text: f.Value()})
	return cmd
}

// View is the filter as the table's title shows it while it is typed.
func (f *filterBar) View() string {
	if f.c.mode != modeFilter {
		return ""
	}
	return "/" + clean(f.Value()) + "_  (enter keeps, esc clears)"
}

func (f *filterBar) ShortHelp() []key.Binding { return []key.Binding{f.keys.Apply, f.keys.Clear} }

func (f *filterBar) FullHelp() [][]key.Binding { return [][]key.Binding{f.ShortHelp()} }

func (f *filterBar) helpGroups() []helpGroup {
	return []helpGroup{{"Text filter (/)", f.ShortHelp()}}
}

// filterTextMsg is the filter as typed, for the sessions table.
type filterTextMsg struct{ text string }
