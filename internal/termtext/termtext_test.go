package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanNeutralisesTerminalControls(t *testing.T) {
	cases := map[string]string{
		"talentflow-web":             "talentflow-web",
		"\x1b]0;pwned\x07":           "?]0;pwned?",
		"a\x1b[2Jb":                  "a?[2Jb",
		"bell\x07":                   "bell?",
		"del\x7f":                    "del?",
		"c1\u009b31m":                "c1?31m",
		"tab\there\nnext\r":          "tab here next ",
		"bad\xffutf8":                "bad?utf8",
		"naïve 日本":                   "naïve 日本",
		"SELECT 1;\x1b]52;c;AAA\x07": "SELECT 1;?]52;c;AAA?",
	}
	for in, want := range cases {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOneLineAndLines(t *testing.T) {
	if got := OneLine("  SELECT\n\t1  \x1b[0m "); got != "SELECT 1 ?[0m" {
		t.Errorf("OneLine = %q", got)
	}
	if got := Lines("SELECT 1\n\x1b]0;x\x07FROM t"); got != "SELECT 1\n?]0;x?FROM t" {
		t.Errorf("Lines = %q", got)
	}
}

func TestWriterCleansEveryWrite(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	n, err := w.Write([]byte("role \x1b]0;pwned\x07\n\tnext\n"))
	if err != nil || n != 22 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := b.String(); got != "role ?]0;pwned?\n next\n" {
		t.Errorf("written %q", got)
	}
}

// FuzzClean checks the promise for any input: no control character and no
// invalid UTF-8 survives, and safe text is left alone.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"\x1b]0;pwned\x07", "ok", "\u009b", "\xff\xfe", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, out := range map[string]string{"Clean": Clean(s), "OneLine": OneLine(s), "Lines": Lines(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q: invalid UTF-8", name, s, out)
			}
			for _, r := range out {
				if r == '\n' && name == "Lines" {
					continue
				}
				if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
					t.Fatalf("%s(%q) = %q keeps control %U", name, s, out, r)
				}
			}
		}
		if safe(s) && Clean(s) != s {
			t.Fatalf("Clean changed safe text %q", s)
		}
		if strings.ContainsRune(s, '\x1b') && strings.ContainsRune(Clean(s), '\x1b') {
			t.Fatalf("ESC survived in %q", s)
		}
	})
}

func TestOrDash(t *testing.T) {
	for in, want := range map[string]string{"": "-", "talentflow-web": "talentflow-web", "a\nb": "a b"} {
		if got := OrDash(in); got != want {
			t.Errorf("OrDash(%q) = %q, want %q", in, got, want)
		}
	}
}
