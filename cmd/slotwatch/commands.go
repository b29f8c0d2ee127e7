package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand: its name, what it is for, how it is called
// and what its --help says, in one table, so that every command's usage,
// the man pages and the completions are written once. run gets the
// arguments after the command name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *environment, args []string) int
	// synopsis is the usage line after "Usage: "; usage, when set, is the
	// whole text instead (a command with verbs of its own).
	synopsis string
	usage    string
	about    []string // the lines --help prints under the synopsis
}

func commands() []command {
	return []command{
		{name: "watch", summary: "live dashboard against --pg / --redis (the default command)", run: runWatch,
			synopsis: "slotwatch [watch] [--pg DSN] [--redis URL] [--config FILE] [--record FILE] [--metrics ADDR] [--read-only]",
			about: []string{
				"The live incident dashboard. Press ? in it for the keys. Without servers, try `slotwatch demo`.",
			}},
		{name: "demo", summary: "the dashboard on a built-in simulation of the TalentFlow incident", run: runDemo,
			synopsis: "slotwatch demo [--seed N] [--speed X] [--warm D] [--read-only]",
			about: []string{
				"The dashboard on a built-in simulation of the TalentFlow incident; no server needed.",
				"Mitigations act on the simulation, so the demo doubles as a training mode. Press ? for the keys.",
			}},
		{name: "snapshot", summary: "one collection pass, as text or --json", run: runSnapshot,
			synopsis: "slotwatch snapshot [--json] [--pg DSN] [--redis URL] [--db NAME] [--config FILE]",
			about: []string{
				"One collection pass of every configured source. Exit 0 when every source answered, 1 otherwise.",
			}},
		{name: "terminate", summary: "cancel or terminate PostgreSQL sessions (preview unless --yes)", run: runTerminate,
			synopsis: "slotwatch terminate [--server NAME] [--cancel] [--state S] [--idle-over D] [--app A] [--user U] [--db D] [--client C] [--pid N ...] [--limit N] [--yes] [--json]",
			about: []string{
				"Previews which PostgreSQL sessions would be terminated (or cancelled); --yes executes.",
				"Exit 0 done (or preview), 1 error or a target failed, 2 usage, 3 refused by read-only or the safety policy.",
			}},
		{name: "redis-kill", summary: "kill Redis clients (preview unless --yes)", run: runRedisKill,
			synopsis: "slotwatch redis-kill [--server NAME] [--id N ...] [--host H] [--name N] [--lib L] [--idle-over D] [--age-over D] [--yes] [--json]",
			about: []string{
				"Previews which Redis clients CLIENT KILL would close; --yes executes.",
				"Exit 0 done (or preview), 1 error or a target failed, 2 usage, 3 refused by read-only or the safety policy.",
			}},
		{name: "guard", summary: "show, set or revert server-side timeouts", run: runGuard,
			usage: guardUsage},
		{name: "drill", summary: "reproduce the TalentFlow incident on real servers", run: runDrill,
			synopsis: "slotwatch drill --pg DSN (--redis URL | --no-redis) [--through POOLER-DSN] [--exhaust] [--fixed] [--duration D] [--yes] [flags]",
			about: []string{
				"Reproduces the TalentFlow incident on real servers in its own database,",
				"until Ctrl-C or --duration, then releases every session and client it holds.",
				"Its targets come from --pg, --through and --redis only, never from the environment or the config file,",
				"and it has none by default. Before it starts it says what it will take and asks (y/N) on a terminal;",
				"elsewhere it needs --yes.",
			}},
		{name: "serve", summary: "serve the dashboard over SSH to many engineers, one set of collectors", run: runServe,
			synopsis: "slotwatch serve --authorized-keys FILE [--listen 127.0.0.1:2222] [--pg DSN] [--redis URL] [--config FILE] [--record FILE] [--metrics ADDR] [--demo]",
			about: []string{
				"Runs the collectors once and serves the dashboard to every engineer who connects with `ssh -p PORT host`.",
				"Keys listed in serve.operators (config file, by fingerprint or comment) may act; every other key is a read-only viewer.",
			}},
		{name: "record", summary: "write snapshots to a JSON-lines recording, headless", run: runRecord,
			synopsis: "slotwatch record --out FILE [--for D] [--pg DSN] [--redis URL] [--config FILE] [--metrics ADDR]",
			about: []string{
				"Writes every snapshot to FILE, one JSON line each, without the dashboard, until Ctrl-C or --for.",
			}},
		{name: "replay", summary: "play a recording in the dashboard", run: runReplay,
			synopsis: "slotwatch replay [--speed X] [--config FILE] FILE",
			about: []string{
				"Plays a recording in the dashboard: space/p pause, +/- speed, ←/→ one minute, Home/End. Actions are disabled.",
			}},
		{name: "report", summary: "write a Markdown postmortem draft from a recording", run: runReport,
			synopsis: "slotwatch report RECORDING [--audit FILE] [--out report.md] [--html report.html] [--config FILE]",
			about: []string{
				"Writes a Markdown postmortem draft from a recording (slotwatch record / watch --record).",
			}},
		{name: "version", summary: "print the version, VCS revision and Go version", run: runVersion,
			synopsis: "slotwatch version",
			about: []string{
				"Prints the version, the VCS revision it was built from (and its time), and the Go version and platform.",
				"`slotwatch --version` is the same.",
			}},
		{name: "completion", summary: "print the bash, zsh or fish completion script", run: runCompletion,
			synopsis: "slotwatch completion bash|zsh|fish",
			about: []string{
				"Prints the shell's completion script for the commands, their flags and the configured --server names.",
				"bash: source <(slotwatch completion bash), or save it as ~/.local/share/bash-completion/completions/slotwatch.",
				"zsh: save it as _slotwatch in a directory of $fpath. fish: save it as ~/.config/fish/completions/slotwatch.fish.",
				"The Debian package installs all three.",
			}},
	}
}

// hiddenCommands are for the release and the completion scripts, not for
// people: they are in neither the usage nor the man pages.
func hiddenCommands() []command {
	return []command{
		{name: "man", summary: "write the man pages", run: runMan,
			synopsis: "slotwatch man --dir DIR",
			about: []string{
				"Writes the man pages, generated from the commands' --help.",
			}},
		{name: "__complete", summary: "print completion candidates", run: runComplete},
	}
}

// lookupCommand finds a command, hidden ones included.
func lookupCommand(name string) (command, bool) {
	for _, c := range append(commands(), hiddenCommands()...) {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printCommandUsage is every command's --help: the table's text on w,
// then the flags the command registered on the flag set's output.
func printCommandUsage(w io.Writer, fs *flag.FlagSet, c command) {
	if c.usage != "" {
		fmt.Fprintln(w, strings.TrimRight(c.usage, "\n"))
	} else {
		fmt.Fprintln(w, "Usage: "+c.synopsis)
		for _, line := range c.about {
			fmt.Fprintln(w, line)
		}
	}
	fs.PrintDefaults()
}
