// Package termscreen is what a terminal shows after reading a stream of
// output, as text: enough of a terminal for tests to read a dashboard that
// rewrites only the cells that changed, where the raw stream holds words
// cut into pieces by cursor moves. It understands what bubbletea and the
// dashboard's cell writer send (cursor position and moves, erase in line
// and display, carriage return, line feed); other sequences and styles
// are read and ignored.
package termscreen

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Screen is a w×h grid of cells; the zero value is not usable.
type Screen struct {
	w, h   int
	cells  [][]string // one grapheme per cell, "" behind a wide one
	x, y   int
	state  byte
	parser *ansi.Parser
	rest   []byte // an incomplete sequence at the end of the last write
}

// New is a blank screen of w columns and h rows.
func New(w, h int) *Screen {
	s := &Screen{w: w, h: h, parser: ansi.NewParser()}
	s.cells = make([][]string, h)
	for y := range s.cells {
		s.cells[y] = blank(w)
	}
	return s
}

func blank(w int) []string {
	row := make([]string, w)
	for i := range row {
		row[i] = " "
	}
	return row
}

// Write reads output as the terminal would.
func (s *Screen) Write(p []byte) (int, error) {
	b := append(s.rest, p...)
	s.rest = nil
	for len(b) > 0 {
		seq, width, n, state := ansi.DecodeSequence(b, s.state, s.parser)
		if n == 0 || (state != ansi.NormalState && n == len(b)) {
			s.rest = append([]byte(nil), b...) // wait for the rest of the sequence
			break
		}
		s.state = state
		b = b[n:]
		switch {
		case width > 0:
			s.put(string(seq), width)
		case len(seq) == 1:
			s.control(seq[0])
		case ansi.HasCsiPrefix(seq):
			s.csi()
		}
	}
	return len(p), nil
}

func (s *Screen) put(g string, width int) {
	if s.x+width > s.w || s.y >= s.h {
		return // the dashboard never wraps: its lines are cut to the width
	}
	s.cells[s.y][s.x] = g
	for i := 1; i < width; i++ {
		s.cells[s.y][s.x+i] = ""
	}
	s.x += width
}

func (s *Screen) control(c byte) {
	switch c {
	case '\r':
		s.x = 0
	case '\n':
		s.y = min(s.y+1, s.h-1)
	case '\b':
		s.x = max(s.x-1, 0)
	}
}

func (s *Screen) csi() {
	cmd := ansi.Cmd(s.parser.Command())
	if cmd.Prefix() != 0 || cmd.Intermediate() != 0 {
		return // private modes: alternate screen, cursor visibility, paste
	}
	p0, _ := s.parser.Param(0, 0)
	n := max(p0, 1)
	switch cmd.Final() {
	case 'H', 'f':
		col, _ := s.parser.Param(1, 1)
		s.y, s.x = clamp(max(p0, 1)-1, s.h), clamp(max(col, 1)-1, s.w)
	case 'A':
		s.y = max(s.y-n, 0)
	case 'B':
		s.y = clamp(s.y+n, s.h)
	case 'C':
		s.x = clamp(s.x+n, s.w)
	case 'D':
		s.x = max(s.x-n, 0)
	case 'G':
		s.x = clamp(n-1, s.w)
	case 'd':
		s.y = clamp(n-1, s.h)
	case 'K':
		s.eraseLine(p0)
	case 'J':
		s.eraseDisplay(p0)
	case 'X': // erase characters
		for i := s.x; i < min(s.x+n, s.w); i++ {
			s.cells[s.y][i] = " "
		}
	}
}

func clamp(v, n int) int { return max(0, min(v, n-1)) }

func (s *Screen) eraseLine(mode int) {
	row := s.cells[s.y]
	from, to := s.x, s.w
	switch mode {
	case 1:
		from, to = 0, s.x+1
	case 2:
		from = 0
	}
	for i := from; i < min(to, s.w); i++ {
		row[i] = " "
	}
}

func (s *Screen) eraseDisplay(mode int) {
	switch mode {
	case 0:
		s.eraseLine(0)
		for y := s.y + 1; y < s.h; y++ {
			s.cells[y] = blank(s.w)
		}
	case 1:
		s.eraseLine(1)
		for y := 0; y < s.y; y++ {
			s.cells[y] = blank(s.w)
		}
	default:
		for y := range s.cells {
			s.cells[y] = blank(s.w)
		}
	}
}

// Text is the screen's rows, trailing spaces cut, one per line.
func (s *Screen) Text() string {
	var b strings.Builder
	for y, row := range s.cells {
		if y > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(strings.Join(row, ""), " "))
	}
	return b.String()
}
