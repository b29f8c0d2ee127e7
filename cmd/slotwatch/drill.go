package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/drill"
)

// The drill's targets when neither flags, environment nor config name one:
// the local servers of a game-day machine.
const (
	drillDefaultPG    = "postgres://postgres@127.0.0.1:5432/postgres"
	drillDefaultRedis = "redis://127.0.0.1:6379"
)

func runDrill(ctx context.Context, env *environment, args []string) int {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var targets targetFlags
	targets.register(fs)
	var cfg drill.Config
	noRedis := fs.Bool("no-redis", false, "do not leak Redis clients")
	drop := fs.Bool("drop", false, "drop the drill's database and role (only if they carry its marker) and exit")
	fs.StringVar(&cfg.Database, "database", drill.DefaultDatabase, "the drill's own database (created and marked by the drill)")
	fs.StringVar(&cfg.Role, "role", drill.DefaultRole, "the application's role the sessions use (created by the drill, never a superuser)")
	fs.IntVar(&cfg.Connections, "connections", 0, "sessions to hold (default: 92% of the usable slots, as in the incident)")
	fs.BoolVar(&cfg.Exhaust, "exhaust", false, "also take every remaining non-reserved slot")
	fs.BoolVar(&cfg.Fixed, "fixed", false, "run the application burst with SELECT … FOR UPDATE: the limit holds")
	fs.DurationVar(&cfg.Duration, "duration", drill.DefaultDuration, "release everything after this long")
	fs.IntVar(&cfg.RedisClients, "redis-clients", drill.DefaultRedisClients, "leaked Redis clients, at most")
	fs.DurationVar(&cfg.RedisEvery, "redis-every", drill.DefaultRedisEvery, "one new leaked Redis client every")
	fs.IntVar(&cfg.Burst, "burst", drill.DefaultBurst, "concurrent applications to the job one below its limit")
	fs.DurationVar(&cfg.StatusEvery, "status-every", drill.DefaultStatusEvery, "print what the drill holds every")
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "Usage: slotwatch drill [--pg DSN] [--redis URL] [--exhaust] [--fixed] [--duration D] [flags]")
		fmt.Fprintln(env.stderr, "Reproduces the TalentFlow incident on real servers (default: the local ones) in its own database,")
		fmt.Fprintln(env.stderr, "until Ctrl-C or --duration, then releases every session and client it holds.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: drill takes no arguments, got %q; run `slotwatch drill --help`.\n", fs.Arg(0))
		return exitUsage
	}
	if cfg.Duration <= 0 {
		fmt.Fprintln(env.stderr, "slotwatch: --duration must be positive: the drill always ends on its own.")
		return exitUsage
	}
	s, err := targets.resolve(env)
	if err != nil {
		errorSentence(env, err)
		return exitUsage
	}
	cfg.PGDSN = firstNonEmpty(s.PG, drillDefaultPG)
	if !*noRedis {
		cfg.RedisURL = firstNonEmpty(s.Redis, drillDefaultRedis)
	}
	cfg.Out = env.stdout
	if *drop {
		return dropDrill(ctx, env, cfg)
	}
	started := time.Now()
	if err := drill.Run(ctx, cfg); err != nil {
		errorSentence(env, err)
		if errors.Is(err, drill.ErrNotOurs) {
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
