// Package termtext makes server-supplied text (role, database and
// application names, queries, Redis client names, server errors) safe to
// write to a terminal. A role named "\x1b]0;pwned\x07" must print as text,
// not retitle the operator's window or move the cursor. The dashboard and
// every human-readable CLI output use this one rule; JSON output does not,
// because it must stay exact.
package termtext

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Clean replaces control characters (C0, DEL, C1; so ESC, OSC, CSI, BEL)
// and invalid UTF-8 with '?'; tabs and line breaks become spaces.
func Clean(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case unsafeRune(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// OneLine is Clean with runs of white space folded to one space, for a
// table cell or a one-line message.
func OneLine(s string) string {
	return strings.Join(strings.Fields(Clean(s)), " ")
}

// Lines is Clean applied to each line of multi-line text (a statement, a
// OrDash is a value for a table cell: the text on one line, or "-" when
// there is none, so an empty cell is never mistaken for a cut one.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return OneLine(s)
}

// full query), keeping its line breaks.
func Lines(s string) string {
	if safe(s) {
		return s
	}
	parts := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, p := range parts {
		parts[i] = Clean(p)
	}
	return strings.Join(parts, "\n")
}

func safe(s string) bool {
	for _, r := range s {
		if unsafeRune(r) || r == '\t' || r == '\n' || r == '\r' {
			return false
		}
	}
	return true
}

// unsafeRune is a control character or a byte that is not UTF-8 (which a
// terminal may read as part of a C1 sequence).
func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError
}

// Writer passes text through Lines: for human-readable output assembled
// from many pieces (tables, previews, reports), so no piece can slip a
// control sequence through. Never put JSON through it: JSON must stay exact.
type Writer struct{ w io.Writer }

// NewWriter returns a Writer onto w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write cleans p and reports all of p as written, as callers such as
// fmt.Fprintf expect, or the underlying error.
func (w *Writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, Lines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
