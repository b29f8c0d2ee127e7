package main

// The command-line parser every subcommand uses. The standard flag package
// keeps the flag definitions, defaults and --help text; the parsing is ours
// because people expect what serious CLIs do: `--` ends the flags, a value
// that starts with a dash (-5min) is a value, a bad value is one sentence
// naming it (not a usage dump that scrolls the error away), and every number
// is checked against its real range before anything talks to a server.

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/durations"
	"github.com/slotwatch/slotwatch/internal/termtext"
)

// parseFlags parses args into fs, flags first, then positionals (available
// as fs.Args()). done means the command returns code now: exitOK after
// --help (the usage was printed), exitUsage after a bad flag (one sentence
// was printed).
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	_, code, done = parseCommandLine(fs, args, false)
	return code, done
}

// parseFlagsInterspersed is parseFlags for commands whose flags may come
// before, between or after positional arguments (guard set NAME VALUE
// --role R); it returns the positionals.
func parseFlagsInterspersed(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	return parseCommandLine(fs, args, true)
}

func parseCommandLine(fs *flag.FlagSet, args []string, interspersed bool) ([]string, int, bool) {
	pos, err := splitArgs(fs, args, interspersed)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(fs)
		return nil, exitOK, true
	case err != nil:
		fmt.Fprintf(fs.Output(), "slotwatch: %v.\n", err)
		return nil, exitUsage, true
	}
	// Hand the positionals to the flag set so fs.Args() and fs.NArg()
	// work; the leading "--" stops it from reading any of them as a flag.
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return nil, exitUsage, true
	}
	return pos, exitOK, false
}

// splitArgs sets the flags in args on fs and returns the positional
// arguments. Without interspersed, the first positional ends the flags, as
// with the flag package.
func splitArgs(fs *flag.FlagSet, args []string, interspersed bool) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if !isFlag(a) {
			if !interspersed {
				return append(pos, args[i:]...), nil
			}
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			if name == "h" || name == "help" {
				return nil, flag.ErrHelp
			}
			return nil, fmt.Errorf("%s has no flag %s%s; run `slotwatch %s --help` for its flags", fs.Name(), display("--"+name), didYouMean(name, flagNames(fs), "--"), fs.Name())
		}
		if !hasValue && !isBoolFlag(f) {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("--%s needs a value; run `slotwatch %s --help`", name, fs.Name())
			}
			i++
			value = args[i]
		} else if !hasValue {
			value = "true"
		}
		if err := fs.Set(name, value); err != nil {
			return nil, flagError(name, value, err)
		}
	}
	return pos, nil
}

// isFlag: "-x", "--x", "--x=v"; not "-" (stdin, by convention) and not a
// negative number or duration ("-5", "-5min"), which are values.
func isFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	c := a[1]
	return !(c >= '0' && c <= '9' || c == '.')
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// badValue is a flag value outside what the flag accepts; problem reads as
// the end of a sentence that starts with the value ("is out of range (1 to
// 2147483647)"). value is set when only part of a list was bad.
type badValue struct{ value, problem string }

func (b badValue) Error() string { return b.problem }

func flagError(name, value string, err error) error {
	var b badValue
	if errors.As(err, &b) {
		if b.value != "" {
			value = b.value
		}
		return fmt.Errorf("--%s %s %s", name, display(value), b.problem)
	}
	return fmt.Errorf("--%s %s: %v", name, display(value), err)
}

// display shows a value the user typed in an error: terminal-safe, quoted
// when it would not read as one word, and redacted when it looks like a
// DSN or URL (one pasted into the wrong flag still holds a password).
func display(v string) string {
	if strings.Contains(v, "://") || strings.Contains(strings.ToLower(v), "password") {
		v = collectors.RedactDSN(v)
	}
	clean := termtext.Clean(v)
	if clean == "" || clean != v || strings.ContainsAny(v, " \"'") {
		return strconv.Quote(v)
	}
	return v
}

// integer is what intValue holds.
type integer interface{ ~int | ~int32 | ~int64 }

// intValue is a whole-number flag checked against [lo, hi] as a 64-bit
// number, so 4294967297 is out of range instead of wrapping to 1.
type intValue[T integer] struct {
	p      *T
	lo, hi T
}

func intVar[T integer](fs *flag.FlagSet, p *T, name string, def, lo, hi T, usage string) {
	*p = def
	fs.Var(&intValue[T]{p: p, lo: lo, hi: hi}, name, usage)
}

func (v *intValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v *intValue[T]) Set(s string) error {
	n, err := parseRanged(s, int64(v.lo), int64(v.hi))
	if err != nil {
		return err
	}
	*v.p = T(n)
	return nil
}

func parseRanged(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, badValue{value: s, problem: "is not a whole number"}
	}
	if err != nil || n < lo || n > hi {
		return 0, badValue{value: s, problem: fmt.Sprintf("is out of range (%d to %d)", lo, hi)}
	}
	return n, nil
}

// intListFlag collects repeated or comma-separated whole numbers in
// [lo, hi] (pids, Redis client ids).
type intListFlag struct {
	vals   []int64
	lo, hi int64
}

func (l *intListFlag) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(l.vals))
	for i, v := range l.vals {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ",")
}

func (l *intListFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := parseRanged(part, l.lo, l.hi)
		if err != nil {
			return err
		}
		l.vals = append(l.vals, n)
	}
	return nil
}

// durationValue is a duration flag in Go or PostgreSQL units (5m, 5min),
// checked against [lo, hi].
type durationValue struct {
	p      *time.Duration
	lo, hi time.Duration
}

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, def, lo, hi time.Duration, usage string) {
	*p = def
	fs.Var(&durationValue{p: p, lo: lo, hi: hi}, name, usage)
}

func (v *durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := checkDuration(s, v.lo, v.hi)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

// checkDuration parses s with the one duration parser and checks its range;
// the flags and the config file share it.
func checkDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := durations.Parse(s)
	if err != nil {
		return 0, badValue{value: s, problem: err.Error()}
	}
	switch {
	case d < lo && lo == 1:
		return 0, badValue{value: s, problem: "must be longer than 0"}
	case d < lo:
		return 0, badValue{value: s, problem: "must be at least " + durations.PG(lo)}
	case d > hi:
		return 0, badValue{value: s, problem: "is too long (at most " + durations.PG(hi) + ")"}
	}
	return d, nil
}

// floatValue is a number flag in (lo, hi]: speeds, where 0 means nothing.
type floatValue struct {
	p      *float64
	lo, hi float64
}

func floatVar(fs *flag.FlagSet, p *float64, name string, def, lo, hi float64, usage string) {
	*p = def
	fs.Var(&floatValue{p: p, lo: lo, hi: hi}, name, usage)
}

func (v *floatValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) {
		return badValue{value: s, problem: "is not a number"}
	}
	if f <= v.lo || f > v.hi {
		return badValue{value: s, problem: fmt.Sprintf("is out of range (more than %g, at most %g)", v.lo, v.hi)}
	}
	*v.p = f
	return nil
}

// listFlag collects repeated or comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// Ranges of the numbers people type.
const (
	maxPID      = math.MaxInt32 // PostgreSQL pids are int4
	maxClientID = math.MaxInt64 // Redis client ids are 64-bit, from 1
	maxCount    = math.MaxInt32 // limits and sizes: any count a server can hold
	day         = 24 * time.Hour
	maxDuration = 100 * 365 * day // "older than" thresholds: anything but silly
)
