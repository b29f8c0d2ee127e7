package main

import (
	"strings"
	"testing"
)

// TestCommandHelpOnStdout: --help (and -h) of every command is its usage
// on stdout with exit 0 and nothing on stderr, and `help CMD` is the same.
func TestCommandHelpOnStdout(t *testing.T) {
	for _, c := range commands() {
		code, out, errOut := runQuiet(t, c.name, "--help")
		if code != exitOK || errOut != "" || !strings.Contains(out, "Usage:") || !strings.Contains(strings.ReplaceAll(out, "[watch]", "watch"), "slotwatch "+c.name) {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", c.name, code, out, errOut)
			continue
		}
		if code, short, _ := runQuiet(t, c.name, "-h"); code != exitOK || short != out {
			t.Errorf("%s -h: exit %d, differs from --help", c.name, code)
		}
		if code, viaHelp, errOut := runQuiet(t, "help", c.name); code != exitOK || viaHelp != out || errOut != "" {
			t.Errorf("help %s: exit %d, stderr %q, same as --help: %v", c.name, code, errOut, viaHelp == out)
		}
	}
}

// TestHelpAfterOtherFlags: --help wins wherever the parser meets it, and a
// usage that was not asked for (a bad flag) stays on stderr.
func TestHelpAfterOtherFlags(t *testing.T) {
	code, out, errOut := runQuiet(t, "report", "rec.jsonl", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: slotwatch report") || errOut != "" {
		t.Errorf("report FILE --help: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut = runQuiet(t, "terminate", "--bogus")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "has no flag --bogus") {
		t.Errorf("terminate --bogus: exit %d %q %q", code, out, errOut)
	}
}

func TestTopLevelUsage(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errOut := runQuiet(t, args...)
		if code != exitOK || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "\n  "+c.name+" ") {
				t.Errorf("%q does not list %s:\n%s", args, c.name, out)
			}
		}
		for _, c := range hiddenCommands() {
			if strings.Contains(out, "  "+c.name+" ") {
				t.Errorf("%q lists the hidden command %s", args, c.name)
			}
		}
	}
}

func TestDidYouMean(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"snapshto"}, "slotwatch: unknown command snapshto (did you mean snapshot?). Run `slotwatch help` to list the commands.\n"},
		{[]string{"redis-kil", "--id", "1"}, "(did you mean redis-kill?)"},
		{[]string{"term"}, "(did you mean terminate?)"},
		{[]string{"help", "gaurd"}, "slotwatch: there is no command gaurd (did you mean guard?). Run `slotwatch help` to list the commands.\n"},
		{[]string{"terminate", "--stat", "idle"}, "slotwatch: terminate has no flag --stat (did you mean --state?); run `slotwatch terminate --help` for its flags.\n"},
		{[]string{"snapshot", "--jsno"}, "(did you mean --json?)"},
		{[]string{"--metric", ":9187"}, "watch has no flag --metric (did you mean --metrics?)"},
	}
	for _, c := range cases {
		code, out, errOut := runQuiet(t, c.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	// Nothing close: no guess.
	for _, args := range [][]string{{"frobnicate"}, {"terminate", "--frobnicate"}, {"help", "__complete"}} {
		if code, _, errOut := runQuiet(t, args...); code != exitUsage || strings.Contains(errOut, "did you mean") {
			t.Errorf("%q: exit %d %q", args, code, errOut)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"snapshto", "snapshot", 1}, {"stat", "state", 1},
		{"gaurd", "guard", 1}, {"kitten", "sitting", 3}, {"", "demo", 4},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestDescribeReadsTheCommandsOwnFlags: describe returns the flag set the
// command's --help prints, and splits its usage into synopsis and prose.
func TestDescribeReadsTheCommandsOwnFlags(t *testing.T) {
	for _, c := range commands() {
		d := describe(c)
		if len(d.synopsis) == 0 || !strings.HasPrefix(d.synopsis[0], "slotwatch") {
			t.Errorf("%s: synopsis %q", c.name, d.synopsis)
		}
		_, out, _ := runQuiet(t, c.name, "--help")
		for _, name := range helpFlags(out) {
			if d.flags.Lookup(name) == nil {
				t.Errorf("%s: --help lists -%s, describe's flag set has no such flag", c.name, name)
			}
		}
	}
	g := describe(command{name: "guard", run: runGuard})
	if len(g.synopsis) != 3 || !strings.HasPrefix(g.prose[0], "Guards are") {
		t.Errorf("guard: synopsis %q, prose %q", g.synopsis, g.prose)
	}
	words, file := g.positionals()
	if strings.Join(words, " ") != "show set revert" || file {
		t.Errorf("guard positionals: %q, file %v", words, file)
	}
	if _, file := describe(command{name: "replay", run: runReplay}).positionals(); !file {
		t.Error("replay takes a FILE")
	}
	if words, _ := describe(command{name: "completion", run: runCompletion}).positionals(); strings.Join(words, " ") != "bash zsh fish" {
		t.Errorf("completion positionals: %q", words)
	}
}

// helpFlags are the flag names PrintDefaults printed in a --help.
func helpFlags(help string) []string {
	var names []string
	for _, line := range strings.Split(help, "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ := strings.Cut(rest, " ")
			names = append(names, name)
		}
	}
	return names
}
