package report

import (
	"strings"
	"testing"
)

func TestMarkdownEscapesServerText(t *testing.T) {
	for in, want := range map[string]string{
		"talentflow_drill":                 "talentflow_drill",
		`SELECT COUNT(*) AS "__count"`:     `SELECT COUNT(\*) AS "\_\_count"`,
		"[click](http://evil)":             `\[click\](http://evil)`,
		"**boss** | `x` <b>":               "\\*\\*boss\\*\\* \\| \\`x\\` \\<b\\>",
		"# heading":                        `\# heading`,
		"role\x1b]0;pwned\x07name\nsecond": `role?\]0;pwned?name second`,
		"analytics-cache-#":                "analytics-cache-#",
		"back\\slash":                      `back\\slash`,
	} {
		if got := esc(in); got != want {
			t.Errorf("esc(%q) = %q, want %q", in, got, want)
		}
	}
	if got := esc("\x9b2J"); strings.ContainsRune(got, '\x9b') {
		t.Errorf("C1 CSI survived: %q", got)
	}
}

// File names are shown in code spans: control bytes are neutralised there
// too, and a backtick cannot close the span early.
func TestCodeSpanIsInert(t *testing.T) {
	if got := code("run\x1b]0;x\x07`.jsonl"); got != "`run?]0;x?'.jsonl`" {
		t.Errorf("code() = %q", got)
	}
}
