package actions

import (
	"fmt"
	"regexp"
	"strings"
)

// globRegexp translates a shell-style glob (*, ?, [abc], [!abc], [a-z]) into
// an anchored regular expression understood alike by Go's regexp and
// PostgreSQL's ~ operator, so that the preview (Go) and the re-check inside
// the signalling statement (SQL) agree on what matches. A value without
// wildcards matches exactly.
func globRegexp(glob string) string {
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteByte('.')
		case '[':
			end := closingBracket(glob, i)
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			writeBracket(&b, glob[i+1:end])
			i = end
		default:
			// Byte-wise so multi-byte UTF-8 passes through unchanged.
			if strings.IndexByte(`\.+*?()|[]{}^$`, c) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('$')
	return b.String()
}

// closingBracket finds the ] closing the class opened at open; a ] right
// after [ or [! is a literal member.
func closingBracket(glob string, open int) int {
	j := open + 1
	if j < len(glob) && glob[j] == '!' {
		j++
	}
	if j < len(glob) && glob[j] == ']' {
		j++
	}
	for ; j < len(glob); j++ {
		if glob[j] == ']' {
			return j
		}
	}
	return -1
}

func writeBracket(b *strings.Builder, body string) {
	b.WriteByte('[')
	if strings.HasPrefix(body, "!") {
		b.WriteByte('^')
		body = body[1:]
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '\\', '[', ']', '^':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(']')
}

// matcher matches text against an optional glob; the empty pattern matches
// everything.
type matcher struct {
	pattern string
	re      *regexp.Regexp
}

func newMatcher(pattern string) (matcher, error) {
	if pattern == "" {
		return matcher{}, nil
	}
	re, err := regexp.Compile(globRegexp(pattern))
	if err != nil {
		return matcher{}, fmt.Errorf("the pattern %q is not a valid glob: %w", pattern, err)
	}
	return matcher{pattern: pattern, re: re}, nil
}

func (m matcher) match(s string) bool { return m.re == nil || m.re.MatchString(s) }
