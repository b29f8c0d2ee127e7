package main

import (
	"context"
	"errors"
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
	fs := newFlagSet(env, "drill")
	// The drill loads a server on purpose, so its targets come from these
	// flags only, never from SLOTWATCH_PG, DATABASE_URL, REDIS_URL or the
	// config file: an environment pointing at production must not turn a
	// game day into an outage.
	var cfg drill.Config
	fs.StringVar(&cfg.PGDSN, "pg", drillDefaultPG, "PostgreSQL server to drill, as a superuser or a role with CREATEDB and CREATEROLE")
	fs.StringVar(&cfg.Through, "through", "", "connection pooler (pgbouncer) DSN the application's sessions connect through, e.g. postgres://127.0.0.1:6432/talentflow_drill; --pg stays PostgreSQL itself")
	fs.StringVar(&cfg.RedisURL, "redis", drillDefaultRedis, "Redis server to leak clients into")
	noRedis := fs.Bool("no-redis", false, "do not leak Redis clients")
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
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "Usage: slotwatch drill [--pg DSN] [--through POOLER-DSN] [--redis URL] [--exhaust] [--fixed] [--duration D] [flags]")
		fmt.Fprintln(env.stderr, "Reproduces the TalentFlow incident on real servers (default: the local ones) in its own database,")
		fmt.Fprintln(env.stderr, "until Ctrl-C or --duration, then releases every session and client it holds.")
		fmt.Fprintln(env.stderr, "Its targets come from --pg, --through and --redis only, never from the environment or the config file.")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: drill takes no arguments, got %q; run `slotwatch drill --help`.\n", fs.Arg(0))
		return exitUsage
	}
	if *noRedis {
		cfg.RedisURL = ""
	}
	cfg.Out = env.text()
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
