package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Every pane renders into an exact rectangle: lines are cut or padded to the
// width and the block is cut or padded to the height. The root view only
// stacks and joins rectangles, so the screen is always exactly the terminal's
// size and never wraps, whatever the data.

// fitLine cuts or pads one line to exactly w cells.
func fitLine(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// block is a rectangle of lines, each exactly w cells wide.
type block []string

// fitBlock turns lines into a w×h rectangle.
func fitBlock(lines []string, w, h int) block {
	if h <= 0 {
		return nil
	}
	out := make(block, h)
	for i := range out {
		if i < len(lines) {
			out[i] = fitLine(lines[i], w)
		} else {
			out[i] = fitLine("", w)
		}
	}
	return out
}

// joinH places rectangles side by side, separated by sep. All blocks must
// have the same height.
func joinH(sep string, blocks ...block) block {
	if len(blocks) == 0 {
		return nil
	}
	out := make(block, len(blocks[0]))
	var b strings.Builder
	for i := range out {
		b.Reset()
		for j, bl := range blocks {
			if j > 0 {
				b.WriteString(sep)
			}
			if i < len(bl) {
				b.WriteString(bl[i])
			}
		}
		out[i] = b.String()
	}
	return out
}

// stack appends rectangles vertically.
func stack(blocks ...block) block {
	var out block
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

func (b block) String() string { return strings.Join(b, "\n") }

// wrapText wraps plain text to w cells at spaces, breaking only words
// longer than a line. Not ansi.Wrap with ',' as a breakpoint: it lets a
// word ending in a comma run one cell past w, which the screen then cuts.
func wrapText(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	return strings.Split(ansi.Hardwrap(ansi.Wordwrap(s, w, ""), w, true), "\n")
}

// layout is how many rows each band of the screen gets.
type layout struct {
	alerts, findings, middle, sessions, footer int
	fleet                                      int // the fleet block's lines; 0 for a single target
	probe                                      int // the probe's refusal reason, wrapped
	strip                                      int // the jobs and audit strip when their panes do not fit
}
