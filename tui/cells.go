package tui

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strconv"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/cellbuf"
	"github.com/charmbracelet/x/term"
)

// cellWriter sits between bubbletea v1's renderer and the terminal and
// rewrites only the cells that changed. The renderer rewrites every line
// that changed whole, styles and all, so an age ticking on each row of the
// sessions table cost the table's whole width per row every second, for
// every viewer; here a changed line is compared cell by cell with what the
// terminal shows (cells parsed by cellbuf, the cell model of bubbletea v2)
// and only the runs that differ are written, each after an absolute cursor
// move.
//
// It understands the renderer's alternate-screen frames (cursor home, each
// line written whole or skipped with a bare line feed, then an optional
// erase below and the cursor's position) and passes anything else through
// unchanged; after such a write it repaints the next frame whole, since it
// cannot know what that write did to the screen.
type cellWriter struct {
	mu    sync.Mutex
	out   io.Writer
	lines []string       // the renderer's last frame, line by line
	shown []cellbuf.Line // what the terminal shows, row by row
	text  []string       // the line each row of shown was parsed from
	w, h  int
	// repaint asks for a full repaint: at start, after a resize and after
	// any write that was not a frame.
	repaint bool
	buf     bytes.Buffer
	parse   *cellbuf.Buffer
}

func newCellWriter(out io.Writer) *cellWriter { return &cellWriter{out: out, repaint: true} }

// resize is called with every WindowSizeMsg, before the renderer's next
// frame (the program's filter).
func (c *cellWriter) resize(w, h int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w == c.w && h == c.h {
		return
	}
	c.w, c.h = w, h
	c.parse = cellbuf.NewBuffer(w, 1)
	c.repaint = true
}

// frameEnd is what the renderer writes after the last line: an optional
// erase below and the cursor's position on the last row, which is the
// frame's line count.
var frameEnd = regexp.MustCompile(`(?:\x1b\[J)?\x1b\[(?:(\d+);)?H$`)

func (c *cellWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines, ok := c.parseFrame(p) // always: the next frame skips what this one wrote
	if !ok || c.w <= 0 || c.h <= 0 {
		c.repaint = true
		return c.out.Write(p)
	}
	c.buf.Reset()
	if c.repaint {
		c.buf.WriteString(ansi.EraseEntireScreen)
		c.shown, c.text = make([]cellbuf.Line, c.h), make([]string, c.h)
		for y := range c.shown {
			c.shown[y] = blankLine(c.w)
		}
		c.repaint = false
	}
	var pen cellbuf.Style
	for y := range c.h {
		line := ""
		if y < len(lines) {
			line = lines[y]
		}
		if line == c.text[y] && c.shown[y] != nil {
			continue
		}
		cellbuf.SetContentRect(c.parse, line, c.parse.Bounds())
		next := slices.Clone(c.parse.Line(0))
		c.diffLine(y, c.shown[y], next, &pen)
		c.shown[y], c.text[y] = next, line
	}
	if !pen.Empty() {
		c.buf.WriteString(ansi.ResetStyle)
	}
	if c.buf.Len() > 0 {
		if _, err := c.out.Write(c.buf.Bytes()); err != nil {
			c.repaint = true // the terminal may hold part of it
			return 0, err
		}
	}
	return len(p), nil
}

// runGap is how many equal cells a run of changed ones may span: writing
// them costs less than the cursor move that would skip them.
const runGap = 6

// diffLine writes the runs of row y where next differs from old.
func (c *cellWriter) diffLine(y int, old, next cellbuf.Line, pen *cellbuf.Style) {
	for x := 0; x < len(next); {
		if sameCell(old, next, x) {
			x++
			continue
		}
		start := x
		for start > 0 && next[start] != nil && next[start].Width == 0 { // a wide cell's second half
			start--
		}
		end, equal := x, 0
		for x++; x < len(next) && equal <= runGap; x++ {
			if sameCell(old, next, x) {
				equal++
			} else {
				end, equal = x, 0
			}
		}
		c.buf.WriteString(ansi.CursorPosition(start+1, y+1))
		for i := start; i <= end; i++ {
			cell := next[i]
			if cell == nil {
				cell = &cellbuf.BlankCell
			}
			if cell.Width == 0 && cell.Rune == 0 { // drawn by the wide cell before it
				continue
			}
			if !cell.Style.Equal(pen) {
				c.buf.WriteString(ansi.ResetStyle)
				if !cell.Style.Empty() {
					c.buf.WriteString(cell.Style.Sequence())
				}
				*pen = cell.Style
			}
			if s := cell.String(); s != "" {
				c.buf.WriteString(s)
			} else {
				c.buf.WriteByte(' ')
			}
		}
		x = end + 1
	}
}

func sameCell(old, next cellbuf.Line, x int) bool {
	if x >= len(old) {
		return false
	}
	a, b := old[x], next[x]
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b)
}

func blankLine(w int) cellbuf.Line {
	l := make(cellbuf.Line, w)
	for i := range l {
		l[i] = cellbuf.BlankCell.Clone()
	}
	return l
}

// parseFrame reads one of the renderer's frames into the whole screen's
// lines (a skipped line keeps the last frame's); ok is false for anything
// that is not a frame. Line k of a frame ends at its k-th line feed: a
// written line is never empty (a short one ends in an erase), a skipped
// one is.
func (c *cellWriter) parseFrame(p []byte) ([]string, bool) {
	body, ok := bytes.CutPrefix(p, []byte(ansi.CursorHomePosition))
	if !ok {
		return nil, false
	}
	end := frameEnd.FindSubmatchIndex(body)
	if end == nil {
		return nil, false
	}
	n := 1
	if end[2] >= 0 {
		n, _ = strconv.Atoi(string(body[end[2]:end[3]]))
	}
	segs := bytes.Split(body[:end[0]], []byte("\n"))
	if n < 1 || len(segs) != n || n > 1000 {
		return nil, false
	}
	lines := make([]string, n)
	for y, seg := range segs {
		if len(seg) == 0 { // skipped: unchanged since the last frame
			if y >= len(c.lines) {
				return nil, false
			}
			lines[y] = c.lines[y]
			continue
		}
		seg = bytes.TrimSuffix(seg, []byte("\r"))
		if y == 0 {
			seg = bytes.TrimPrefix(seg, []byte("\r")) // the first frame starts with one
		}
		lines[y] = string(bytes.TrimSuffix(seg, []byte(ansi.EraseLineRight)))
	}
	c.lines = lines
	return lines, true
}

// cellFile is a cellWriter on a terminal: bubbletea reads the terminal's
// size and state through the output's file.
type cellFile struct {
	*cellWriter
	f term.File
}

func (c cellFile) Read(p []byte) (int, error) { return c.f.Read(p) }
func (c cellFile) Close() error               { return c.f.Close() }
func (c cellFile) Fd() uintptr                { return c.f.Fd() }

// cellOutput is the program options that put a cellWriter before out; the
// filter it sets must stay the program's only one (a later WithFilter
// would replace it and the writer would miss resizes).
func cellOutput(out io.Writer) []tea.ProgramOption {
	cw := newCellWriter(out)
	var w io.Writer = cw
	if f, ok := out.(term.File); ok {
		w = cellFile{cellWriter: cw, f: f}
	}
	return []tea.ProgramOption{tea.WithOutput(w), tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
		if size, ok := msg.(tea.WindowSizeMsg); ok {
			cw.resize(size.Width, size.Height)
		}
		return msg
	})}
}
