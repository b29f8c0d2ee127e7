package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"
)

// styles are built from the model's renderer, so a test can render with the
// Ascii profile and NO_COLOR can turn colour off, without package globals.
// Colour only ever doubles a word or glyph: nothing is told by colour alone.
type styles struct {
	title    lipgloss.Style
	bold     lipgloss.Style
	dim      lipgloss.Style
	critical lipgloss.Style
	warning  lipgloss.Style
	ok       lipgloss.Style
	selected lipgloss.Style
	marked   lipgloss.Style
	heading  lipgloss.Style
	focused  lipgloss.Style
	dialog   lipgloss.Style
	helpKey  lipgloss.Style
	helpDesc lipgloss.Style
	plain    lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	return styles{
		title:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("24")),
		bold:     r.NewStyle().Bold(true),
		dim:      r.NewStyle().Foreground(lipgloss.Color("245")),
		critical: r.NewStyle().Bold(true).Foreground(lipgloss.Color("196")),
		warning:  r.NewStyle().Foreground(lipgloss.Color("214")),
		ok:       r.NewStyle().Foreground(lipgloss.Color("42")),
		selected: r.NewStyle().Reverse(true),
		marked:   r.NewStyle().Foreground(lipgloss.Color("213")),
		heading:  r.NewStyle().Bold(true).Underline(true),
		focused:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("39")),
		dialog:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("196")),
		helpKey:  r.NewStyle().Foreground(lipgloss.Color("39")),
		helpDesc: r.NewStyle().Foreground(lipgloss.Color("250")),
		plain:    r.NewStyle(),
	}
}

// styleBubbles replaces every style bubbles' constructors built on
// lipgloss's global renderer (help.New, textinput.New) with ours: in a
// served session the global renderer is the server's stdout, with the
// wrong colour profile for every viewer.
func (s styles) styleBubbles(h *help.Model, in *textinput.Model) {
	h.Styles = help.Styles{
		Ellipsis:       s.dim,
		ShortKey:       s.helpKey,
		ShortDesc:      s.helpDesc,
		ShortSeparator: s.dim,
		FullKey:        s.helpKey,
		FullDesc:       s.helpDesc,
		FullSeparator:  s.dim,
	}
	in.PromptStyle = s.plain
	in.TextStyle = s.plain
	in.PlaceholderStyle = s.dim
	in.CompletionStyle = s.dim
	in.CursorStyle = s.plain //nolint:staticcheck // deprecated but still a style on the global renderer
	in.Cursor.Style = s.plain
	in.Cursor.TextStyle = s.plain
}
