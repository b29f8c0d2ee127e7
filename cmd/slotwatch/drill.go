package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/slotwatch/slotwatch/drill"
)

func runDrill(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "drill")
	// The drill loads a server on purpose, so its targets come from these
	// flags only, never from SLOTWATCH_PG, DATABASE_URL, REDIS_URL or the
	// config file: an environment pointing at production must not turn a
	// game day into an outage.
	var cfg drill.Config
	fs.StringVar(&cfg.PGDSN, "pg", "", "PostgreSQL server to drill (required), as a superuser or a role with CREATEDB and CREATEROLE")
	fs.StringVar(&cfg.Through, "through", "", "connection pooler (pgbouncer) DSN the application's sessions connect through, e.g. postgres://127.0.0.1:6432/talentflow_drill; --pg stays PostgreSQL itself")
	fs.StringVar(&cfg.RedisURL, "redis", "", "Redis server to leak clients into (required unless --no-redis)")
	noRedis := fs.Bool("no-redis", false, "do not leak Redis clients")
	yes := fs.Bool("yes", false, "start without asking (needed when no terminal is there to answer)")
	drop := fs.Bool("drop", false, "drop the drill's database and role (only if they carry its marker) and exit")
	fs.StringVar(&cfg.Database, "database", drill.DefaultDatabase, "the drill's own database (created and marked by the drill)")
	fs.StringVar(&cfg.Role, "role", drill.DefaultRole, "the application's role the sessions use (created by the drill, never a superuser)")
	intVar(fs, &cfg.Connections, "connections", 0, 0, 262143, "sessions to hold (default: 92% of the usable slots, as in the incident)")
	fs.BoolVar(&cfg.Exhaust, "exhaust", false, "also take every remaining non-reserved slot")
	fs.BoolVar(&cfg.Fixed, "fixed", false, "run the application burst with SELECT … FOR UPDATE: the limit holds")
	durationVar(fs, &cfg.Duration, "duration", drill.DefaultDuration, 1, 7*day, "release everything after this long")
	intVar(fs, &cfg.RedisClients, "redis-clients", drill.DefaultRedisClients, 0, 1000000, "leaked Redis clients, at most")
	durationVar(fs, &cfg.RedisEvery, "redis-every", drill.DefaultRedisEvery, time.Millisecond, time.Hour, "one new leaked Redis client every")
	intVar(fs, &cfg.Burst, "burst", drill.DefaultBurst, 0, 10000, "concurrent applications to the job one below its limit")
	durationVar(fs, &cfg.StatusEvery, "status-every", drill.DefaultStatusEvery, time.Second, day, "print what the drill holds every")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: drill takes no arguments, got %q; run `slotwatch drill --help`.\n", fs.Arg(0))
		return exitUsage
	}
	if err := drillTargets(cfg, *noRedis, *drop); err != nil {
		fmt.Fprintf(env.stderr, "slotwatch: %v\n", err)
		return exitUsage
	}
	if *noRedis {
		cfg.RedisURL = ""
	}
	cfg.Out = env.text()
	if *drop {
		return dropDrill(ctx, env, cfg)
	}
	cfg.Confirm = drillConfirm(env, *yes, os.Stdin)
	started := time.Now()
	if err := drill.Run(ctx, cfg); err != nil {
		errorSentence(env, err)
		var invalid *drill.ConfigError
		if errors.Is(err, errNoConfirmation) || errors.As(err, &invalid) {
			return exitUsage
		}
		if errors.Is(err, drill.ErrNotOurs) || errors.Is(err, drill.ErrDeclined) {
			return exitRefused
		}
		return exitError
	}
	fmt.Fprintf(env.stdout, "drill finished after %s\n", time.Since(started).Round(time.Second))
	return exitOK
}

func dropDrill(ctx context.Context, env *environment, cfg drill.Config) int {
	if err := drill.Drop(ctx, cfg); err != nil {
		errorSentence(env, err)
		if errors.Is(err, drill.ErrNotOurs) {
			return exitRefused
		}
		return exitError
	}
	return exitOK
}

// drillTargets refuses a drill whose targets are not all named: the drill
// loads servers on purpose, so it has no default one.
func drillTargets(cfg drill.Config, noRedis, drop bool) error {
	switch {
	case cfg.PGDSN == "":
		return errors.New("drill needs its PostgreSQL server named: pass --pg DSN (it has no default, since it takes most of the server's slots)")
	case drop:
		return nil
	case cfg.RedisURL == "" && !noRedis:
		return errors.New("drill needs its Redis server named: pass --redis URL, or --no-redis to drill PostgreSQL only")
	case cfg.RedisURL != "" && noRedis:
		return errors.New("--redis and --no-redis contradict each other; pass one")
	}
	return nil
}

// errNoConfirmation: nobody can answer the question and --yes was not given.
var errNoConfirmation = errors.New("no confirmation")

type noConfirmation struct{ in drill.Intent }

func (e noConfirmation) Error() string {
	return "the drill " + e.in.String() + "; with no terminal to confirm it, run again with --yes to start it."
}

func (e noConfirmation) Unwrap() error { return errNoConfirmation }

// drillConfirm says what the drill will take, then starts it with --yes,
// asks (y/N) when stdin is a terminal, and refuses otherwise.
func drillConfirm(env *environment, yes bool, stdin *os.File) func(context.Context, drill.Intent) error {
	return func(ctx context.Context, in drill.Intent) error {
		if yes {
			fmt.Fprintf(env.text(), "the drill %s.\n", in)
			return nil
		}
		if !isatty.IsTerminal(stdin.Fd()) {
			return noConfirmation{in}
		}
		fmt.Fprintf(env.text(), "the drill %s.\nStart it? (y/N) ", in)
		if !askYes(ctx, stdin) {
			return drill.ErrDeclined
		}
		return nil
	}
}

// askYes reads one answer; only y or yes starts the drill, and Ctrl-C or
// the end of input is a no.
func askYes(ctx context.Context, r io.Reader) bool {
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		return a == "y" || a == "yes"
	case <-ctx.Done():
		return false
	}
}
