// Command slotwatch is a terminal console for connection-exhaustion incidents
// on PostgreSQL and Redis. This package is wiring only: flags, configuration
// and subcommands; the work lives in collectors, actions and tui.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/internal/termtext"
)

// Exit statuses shared by every subcommand.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitRefused = 3 // refused by read-only mode or the safety policy
)

// environment is what a subcommand may touch besides its arguments, so tests
// can run commands in-process with their own streams and variables.
type environment struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// flagSet, when set, is handed every flag set a command creates: the
	// man pages and completions read a command's flags from the very set
	// its --help prints (describe in help.go).
	flagSet func(*flag.FlagSet)
}

// text is stdout for human-readable output: server-supplied names and
// queries cannot send escape sequences to the terminal through it. JSON
// goes to stdout itself, exact.
func (e *environment) text() io.Writer { return termtext.NewWriter(e.stdout) }

func main() {
	// go-redis logs through a process-wide logger (a failed dial logs a line
	// every tick); those lines would tear the terminal UI and the CLI's
	// one-sentence errors, and every failure already reaches the user as an
	// error. The program, not a library, decides this, once, before any
	// goroutine starts.
	redis.SetLogger(discardLog{})
	// SIGHUP is what a dropped SSH session to a bastion sends: it must end
	// the command as cleanly as Ctrl-C or SIGTERM (terminal restored,
	// recording and audit log flushed and closed, connections closed).
	ctx, stop := signal.NotifyContext(context.Background(), shutdownSignals()...)
	env := &environment{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if n := consoleProcessors(os.Args[1:], os.Getenv); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	stopProfile := startCPUProfile(os.Getenv("SLOTWATCH_CPUPROFILE"), os.Stderr)
	code := run(ctx, env, os.Args[1:])
	stop()
	stopProfile()
	os.Exit(code)
}

type discardLog struct{}

func (discardLog) Printf(context.Context, string, ...any) {}

// run dispatches to a subcommand; with no command (or only flags) it watches.
func run(ctx context.Context, env *environment, args []string) int {
	// Everything on stderr is for people (errors quote server messages).
	// A command's --help goes to stdout instead: it was asked for, and
	// people pipe it into less or grep.
	env = &environment{stdout: env.stdout, stderr: newHelpRouter(termtext.NewWriter(env.stderr), env.text()),
		getenv: env.getenv, flagSet: env.flagSet}
	if len(args) > 0 {
		switch {
		case isHelp(args[0]):
			usage(env.stdout)
			return exitOK
		case isVersion(args[0]):
			return runVersion(ctx, env, args[1:])
		}
	}
	name, args := commandOf(args)
	if name == "help" {
		return runHelp(ctx, env, args)
	}
	if c, ok := lookupCommand(name); ok {
		return c.run(ctx, env, args)
	}
	fmt.Fprintf(env.stderr, "slotwatch: unknown command %s%s. Run `slotwatch help` to list the commands.\n", display(name), didYouMean(name, commandNames(), ""))
	return exitUsage
}

// commandOf splits the command name off the arguments; with none (or only
// flags) the command is watch.
func commandOf(args []string) (string, []string) {
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "watch", args
}

// consoleProcessors is how many processors to run on: 1 for the
// one-terminal consoles (watch, demo, replay) unless GOMAXPROCS says
// otherwise, else 0 (Go's default). They do a few milliseconds of work a
// second in a chain of goroutines (collector, hub,
// bridge, event loop, renderer); with more processors each hand-off wakes
// another thread, and those futex wake-ups were a sixth of the console's
// CPU (scripts/bench-live; docs/benchmarks.md). serve keeps every
// processor for its viewers. main applies it; tests, which call run, never.
func consoleProcessors(args []string, getenv func(string) string) int {
	if getenv("GOMAXPROCS") != "" {
		return 0
	}
	switch name, _ := commandOf(args); name {
	case "watch", "demo", "replay":
		return 1
	}
	return 0
}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: slotwatch [command] [flags]")
	fmt.Fprint(w, wrapText(overview, 100))
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `slotwatch help COMMAND` or `slotwatch COMMAND --help` for a command's flags; `slotwatch --version` for the version.")
}

// errorSentence prints err as the one clear sentence users see.
func errorSentence(env *environment, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	fmt.Fprintf(env.stderr, "slotwatch: %v\n", err)
}

// newFlagSet returns a flag set that reports errors on the command's stderr
// and leaves exiting to the command.
func newFlagSet(env *environment, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	if c, ok := lookupCommand(name); ok {
		fs.Usage = func() { printCommandUsage(env.stderr, fs, c) }
	}
	if env.flagSet != nil {
		env.flagSet(fs)
	}
	return fs
}

// shutdownSignals end every command the same way.
func shutdownSignals() []os.Signal {
	return []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}
}
