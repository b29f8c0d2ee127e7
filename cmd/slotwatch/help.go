package main

// Help: `slotwatch help [COMMAND]`, --help on stdout, "did you mean", and
// describe, which reads a command's usage and flags from the command itself
// so that --help, the man pages and the completions never disagree.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// tagline and overview say what slotwatch is, for the usage and slotwatch(1).
const (
	tagline  = "a terminal console for PostgreSQL, pgbouncer and Redis connection-exhaustion incidents"
	overview = "slotwatch is " + tagline + ": who holds the connection slots, which alerts fire and why, " +
		"and mitigations that preview first, refuse what the safety policy protects, and write an audit log. " +
		"With no command, or only flags, it runs watch."
)

// wrapText breaks text into lines of at most width columns, each ending in
// a newline.
func wrapText(text string, width int) string {
	var b strings.Builder
	col := 0
	for _, word := range strings.Fields(text) {
		if col > 0 && col+1+len(word) > width {
			b.WriteString("\n")
			col = 0
		}
		if col > 0 {
			b.WriteString(" ")
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	b.WriteString("\n")
	return b.String()
}

// helpRouter is a command's stderr. Every command prints its --help to
// its stderr (the Usage functions live with the commands); while the
// parser prints a usage that was asked for, the router sends it to stdout.
type helpRouter struct {
	mu     sync.Mutex
	stderr io.Writer
	stdout io.Writer
	help   bool
}

func newHelpRouter(stderr, stdout io.Writer) *helpRouter {
	return &helpRouter{stderr: stderr, stdout: stdout}
}

func (r *helpRouter) Write(p []byte) (int, error) {
	r.mu.Lock()
	w := r.stderr
	if r.help {
		w = r.stdout
	}
	r.mu.Unlock()
	return w.Write(p)
}

// toStdout runs print with the router's output on stdout.
func (r *helpRouter) toStdout(print func()) {
	r.mu.Lock()
	r.help = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.help = false
		r.mu.Unlock()
	}()
	print()
}

// printUsage prints the usage --help asked for: on stdout when the flag
// set reports to a router (run's commands), else where the set reports.
func printUsage(fs *flag.FlagSet) {
	if r, ok := fs.Output().(*helpRouter); ok {
		r.toStdout(fs.Usage)
		return
	}
	fs.Usage()
}

// runHelp is `slotwatch help [COMMAND]`.
func runHelp(ctx context.Context, env *environment, args []string) int {
	switch {
	case len(args) == 0:
		usage(env.stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintln(env.stderr, "slotwatch: help takes at most one command name; run `slotwatch help` to list them.")
		return exitUsage
	}
	c, ok := lookupCommand(args[0])
	if !ok || isHiddenCommand(c.name) {
		fmt.Fprintf(env.stderr, "slotwatch: there is no command %s%s. Run `slotwatch help` to list the commands.\n", display(args[0]), didYouMean(args[0], commandNames(), ""))
		return exitUsage
	}
	return c.run(ctx, env, []string{"--help"})
}

func isHiddenCommand(name string) bool {
	for _, c := range hiddenCommands() {
		if c.name == name {
			return true
		}
	}
	return false
}

// commandNames are the commands people type, help included.
func commandNames() []string {
	names := []string{"help"}
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

func flagNames(fs *flag.FlagSet) []string {
	names := []string{"help"}
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// didYouMean is " (did you mean PREFIX+NAME?)" for the candidate closest
// to typed, or "" when none is close enough to be what was meant.
func didYouMean(typed string, candidates []string, prefix string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(typed), c)
		// A prefix of a long name ("term" for terminate) is meant too.
		if len(typed) >= 3 && strings.HasPrefix(c, strings.ToLower(typed)) {
			d = 1
		}
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Up to a third of the word may be wrong: "snapshto", "--stat",
	// "redis-kil"; "frobnicate" resembles nothing.
	if best == "" || bestDist > max(1, len(typed)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s%s?)", prefix, best)
}

// editDistance is the Damerau (optimal string alignment) distance: a swap
// of two neighbours ("snapshto") counts as one edit, as people make it.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// commandDoc is what a command's --help says, taken apart: the synopsis
// lines, the prose after them, and the flag set itself.
type commandDoc struct {
	command
	synopsis []string // "slotwatch terminate [--server NAME] ..."
	prose    []string // the lines between the synopsis and the flags
	flags    *flag.FlagSet
}

// describe runs c with --help against a capturing environment: its Usage
// function prints the synopsis and prose, and newFlagSet hands over the
// flag set whose defaults --help prints. The context is already cancelled
// and the environment empty, so a command that ignored --help could reach
// no server.
func describe(c command) commandDoc {
	var text bytes.Buffer
	var sets []*flag.FlagSet
	env := &environment{
		stdout: io.Discard, stderr: &text, getenv: func(string) string { return "" },
		flagSet: func(fs *flag.FlagSet) {
			sets = append(sets, fs)
			fs.SetOutput(io.Discard) // PrintDefaults: the flags are read from the set
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.run(ctx, env, []string{"--help"})
	doc := commandDoc{command: c, flags: flag.NewFlagSet(c.name, flag.ContinueOnError)}
	if len(sets) > 0 {
		doc.flags = sets[0]
	}
	doc.synopsis, doc.prose = splitUsage(text.String())
	return doc
}

// splitUsage splits a usage text into its synopsis lines ("Usage: X" or
// "Usage:" followed by indented lines) and the prose after them.
func splitUsage(text string) (synopsis, prose []string) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Usage:") {
		return nil, lines
	}
	if first := strings.TrimSpace(strings.TrimPrefix(lines[0], "Usage:")); first != "" {
		return []string{first}, lines[1:]
	}
	i := 1
	for ; i < len(lines) && strings.HasPrefix(lines[i], "  slotwatch"); i++ {
		synopsis = append(synopsis, strings.TrimSpace(lines[i]))
	}
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	return synopsis, lines[i:]
}

// docFlags are the doc's flags in name order, as PrintDefaults lists them.
func (d commandDoc) docFlags() []*flag.Flag {
	var out []*flag.Flag
	d.flags.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// positionals are the words a synopsis shows after the command name
// outside brackets and flag values: literal verbs (show, set, revert; bash,
// zsh, fish) and whether a FILE or RECORDING is taken.
func (d commandDoc) positionals() (words []string, file bool) {
	seen := map[string]bool{}
	for _, line := range d.synopsis {
		fields := strings.Fields(line)
		depth := 0
		for i := 2; i < len(fields); i++ {
			f := fields[i]
			opened := depth
			depth += strings.Count(f, "[") - strings.Count(f, "]")
			if opened > 0 || strings.HasPrefix(f, "[") || strings.HasPrefix(f, "-") {
				continue
			}
			if i > 0 && strings.HasPrefix(fields[i-1], "-") {
				continue // a flag's value
			}
			switch {
			case f == "FILE" || f == "RECORDING":
				file = true
			case strings.ToLower(f) == f && i == 2:
				for _, w := range strings.Split(f, "|") {
					if w != "" && !seen[w] {
						seen[w] = true
						words = append(words, w)
					}
				}
			}
		}
	}
	return words, file
}
