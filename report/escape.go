package report

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slotwatch/slotwatch/internal/termtext"
)

// esc makes server-supplied text (names, queries, client names, errors, and
// the findings that quote them) safe in the Markdown draft: control
// characters are neutralised as on every terminal output (termtext), line
// breaks folded, and Markdown syntax escaped so a role named "**x**" or
// "[a](http://…)" reads as text, not as markup or a link. Escaped text
// renders exactly as the original characters.
func esc(s string) string {
	s = termtext.OneLine(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case strings.ContainsRune("\\`*[]<>|~", r):
			b.WriteByte('\\')
		case r == '_' && !(wordAt(s, i-1, true) && wordAt(s, i+1, false)):
			b.WriteByte('\\') // an underscore inside a word never emphasises
		case i == 0 && strings.ContainsRune("#+-=", r) && (len(s) == 1 || s[1] == ' ' || rune(s[1]) == r):
			b.WriteByte('\\') // would start a heading, a list or a rule
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

// wordAt reports whether the rune ending before (back) or starting at
// index i is a letter or digit.
func wordAt(s string, i int, back bool) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	var r rune
	if back {
		r, _ = utf8.DecodeLastRuneInString(s[:i+1])
	} else {
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
