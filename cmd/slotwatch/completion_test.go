package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := runQuiet(t, "completion", shell)
	if code != exitOK || errOut != "" {
		t.Fatalf("completion %s: exit %d %q", shell, code, errOut)
	}
	return out
}

// TestCompletionScriptsMentionEveryCommand: each script offers every
// command, and every flag of every command where that command is typed.
func TestCompletionScriptsMentionEveryCommand(t *testing.T) {
	flagForm := map[string]func(string) string{
		"bash": func(n string) string { return "--" + n + " " },
		"zsh":  func(n string) string { return "--" + n + "[" },
		"fish": func(n string) string { return " -l " + n + " " },
	}
	commandOffer := map[string]func(string) string{
		"bash": func(n string) string { return " " + n + " " }, // in the list of commands
		"zsh":  func(n string) string { return "'" + n + ":" },
		"fish": func(n string) string { return "-a '" + n + "' -d" },
	}
	for shell, form := range flagForm {
		script := completionScript(t, shell)
		offers := script
		if shell == "bash" {
			m := bashCommandList.FindStringSubmatch(script)
			if m == nil {
				t.Fatalf("bash: no list of commands in\n%s", script)
			}
			offers = " " + m[1] + " "
		}
		for _, c := range commands() {
			if !strings.Contains(offers, commandOffer[shell](c.name)) {
				t.Errorf("%s: the command %s is not offered", shell, c.name)
			}
			section := commandSection(shell, script, c.name)
			for _, f := range describe(c).docFlags() {
				if !strings.Contains(strings.ReplaceAll(section, "=[", "["), form(f.Name)) {
					t.Errorf("%s: %s's --%s is missing", shell, c.name, f.Name)
				}
			}
		}
		for _, c := range hiddenCommands() {
			if commandSection(shell, script, c.name) != "" || strings.Contains(offers, commandOffer[shell](c.name)) {
				t.Errorf("%s offers the hidden command %s", shell, c.name)
			}
		}
	}
	if code, _, errOut := runQuiet(t, "completion", "tcsh"); code != exitUsage || !strings.Contains(errOut, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d %q", code, errOut)
	}
}

// bashCommandList finds the words bash offers for the first argument.
var bashCommandList = regexp.MustCompile(`COMP_CWORD == 1 \)\); then\n\s+COMPREPLY=\(\$\(compgen -W '([^']*)'`)

// commandSection is the part of a script that completes one command.
func commandSection(shell, script, name string) string {
	var b strings.Builder
	lines := strings.Split(script, "\n")
	for i, l := range lines {
		switch {
		case shell == "bash" && strings.HasPrefix(l, "        "+name+") "):
			b.WriteString(l)
		case shell == "zsh" && l == "        "+name+")":
			for _, m := range lines[i+1:] {
				b.WriteString(m + "\n")
				if strings.HasSuffix(m, ";;") {
					break
				}
			}
		case shell == "fish" && strings.Contains(l, "'__slotwatch_using "+name+"'"):
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestCompleteServers: the names --server takes come from the command
// line's --config, --pg and --redis as the command resolves them.
func TestCompleteServers(t *testing.T) {
	cfg := writeConfig(t, "pg:\n  - {name: primary, dsn: \"postgres://db.invalid/app\"}\n  - {name: replica-1, dsn: \"postgres://db2.invalid/app\"}\nredis:\n  - {name: cache, url: \"redis://c.invalid:6379\"}\n")
	code, out, _ := runQuiet(t, "__complete", "servers", "terminate", "--config", cfg, "--app", "web")
	if code != exitOK || out != "primary\nreplica-1\ncache\n" {
		t.Errorf("from --config: exit %d %q", code, out)
	}
	_, out, _ = runQuiet(t, "__complete", "servers", "guard", "--pg", "a=postgres://x.invalid/db", "--pg=b=postgres://y.invalid/db", "--config="+cfg)
	if out != "a\nb\ncache\n" {
		t.Errorf("--pg over the config's pg list: %q", out)
	}
	if code, out, errOut := runQuiet(t, "__complete", "servers", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitError || out != "" || errOut != "" {
		t.Errorf("a missing config: exit %d %q %q (a completion prints nothing)", code, out, errOut)
	}
}

// TestCompletionScriptsLoad sources each script in its shell, when that
// shell is installed, and completes a command and a --server name.
func TestCompletionScriptsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	dir := t.TempDir()
	bin := buildSlotwatch(t)
	if err := os.Symlink(bin, filepath.Join(dir, "slotwatch")); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "pg:\n  - {name: primary, dsn: \"postgres://db.invalid/app\"}\n  - {name: replica-1, dsn: \"postgres://db2.invalid/app\"}\n")
	env := append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "HOME="+t.TempDir(), "XDG_CONFIG_HOME=")
	shell := func(name, script string, args ...string) string {
		t.Helper()
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s is not installed (Debian package %s)", name, name)
		}
		path := filepath.Join(dir, "completion."+name)
		if err := os.WriteFile(path, []byte(completionScript(t, name)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(name, append(args, strings.ReplaceAll(script, "SCRIPT", path))...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	t.Run("bash", func(t *testing.T) {
		out := shell("bash", `source SCRIPT; complete -p slotwatch
c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _slotwatch; echo "${COMPREPLY[*]}"; }
c slotwatch red; c slotwatch terminate --st; c slotwatch guard ''; c slotwatch terminate --config `+cfg+` --server ''`, "--norc", "-c")
		if want := "complete -F _slotwatch slotwatch\nredis-kill\n--state\nshow set revert\nprimary replica-1\n"; out != want {
			t.Errorf("bash:\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("zsh", func(t *testing.T) {
		out := shell("zsh", `autoload -U compinit; compinit -u -d `+filepath.Join(dir, "zcompdump")+`; source SCRIPT; print ${_comps[slotwatch]}`, "-f", "-c")
		if out != "_slotwatch\n" {
			t.Errorf("zsh: %q", out)
		}
	})
	t.Run("fish", func(t *testing.T) {
		out := shell("fish", `source SCRIPT; complete -C "slotwatch "; complete -C "slotwatch terminate --config `+cfg+` --server "`, "--no-config", "-c")
		for _, c := range commands() {
			if !strings.Contains(out, "\n"+c.name+"\t") && !strings.HasPrefix(out, c.name+"\t") {
				t.Errorf("fish: slotwatch <TAB> does not offer %s", c.name)
			}
		}
		if !strings.Contains(out, "\nreplica-1\t") {
			t.Errorf("fish: --server does not offer replica-1:\n%s", out)
		}
	})
}
