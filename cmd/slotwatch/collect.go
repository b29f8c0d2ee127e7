package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// errNoTargets is returned when neither --pg nor --redis (nor their
// environment variables or config keys) names a server.
var errNoTargets = errors.New("no server to watch: give --pg DSN and/or --redis URL (or SLOTWATCH_PG, DATABASE_URL, SLOTWATCH_REDIS, REDIS_URL, or the pg/redis keys of the config file), or --fleet-prometheus URL for the whole fleet")

// collect resolves the settings and the collectors' configuration for a
// command that watches servers. done means the command returns code now;
// the reason has been printed.
func (t *targetFlags) collect(env *environment) (s *settings, cfg collectors.Config, code int, done bool) {
	s, err := t.resolve(env)
	if err != nil {
		errorSentence(env, err)
		return nil, cfg, exitUsage, true
	}
	cfg, err = collectorsConfig(s)
	switch {
	case errors.Is(err, errNoTargets):
		errorSentence(env, err)
		fmt.Fprintln(env.stderr, "slotwatch: to try the console without servers, run `slotwatch demo`.")
		return nil, cfg, exitUsage, true
	case err != nil:
		return nil, cfg, exitFor(env, err), true
	}
	return s, cfg, exitOK, false
}

// collectorsConfig turns the resolved settings into the collectors'
// configuration. PostgreSQL is watched when a pg target is given; the
// probe runs when it has a DSN (probe.dsn, else pg) and probe.interval is
// not 0; job capacity runs when it has a DSN (jobs.dsn, else pg) and
// jobs.disabled is false; Redis is watched when a redis target is given.
// The first server of each kind is the primary (the probe, jobs and
// pgbouncer belong to it); further ones are MorePG / MoreRedis, each under
// the name --server and the screens use.
func collectorsConfig(s *settings) (collectors.Config, error) {
	var cfg collectors.Config
	interval := s.Interval
	for i, e := range s.servers.pg {
		pg := collectors.PGConfig{Name: e.label(kindPG), DSN: e.Target, DB: s.DB, Interval: interval}
		if i == 0 {
			cfg.PG = &pg
		} else {
			cfg.MorePG = append(cfg.MorePG, pg)
		}
	}
	if probeDSN := firstNonEmpty(s.Probe.DSN, s.PG); probeDSN != "" && probeInterval(s) > 0 {
		cfg.Probe = &collectors.ProbeConfig{DSN: probeDSN, Interval: probeInterval(s)}
	}
	for i, e := range s.servers.redis {
		r := collectors.RedisConfig{Name: e.label(kindRedis), URL: e.Target, Cluster: e.Cluster, Interval: interval}
		if i == 0 {
			cfg.Redis = &r
		} else {
			cfg.MoreRedis = append(cfg.MoreRedis, r)
		}
	}
	if jobsDSN := firstNonEmpty(s.Jobs.DSN, s.PG); jobsDSN != "" && !s.Jobs.Disabled {
		cfg.Jobs = &collectors.JobsConfig{DSN: jobsDSN, Query: s.Jobs.Query, Interval: s.Jobs.Interval}
	}
	if s.PgBouncer != "" {
		cfg.PgBouncer = &collectors.PgBouncerConfig{DSN: s.PgBouncer, Interval: interval}
	}
	cfg.Alerting = alertingConfig(s)
	cfg.PGLog = &collectors.PGLogConfig{Path: s.PGLog.Path, Disabled: s.PGLog.Disabled}
	cfg.PromFleet = promFleetConfig(s)
	if cfg.PG == nil && cfg.Redis == nil && cfg.PgBouncer == nil && cfg.PromFleet == nil {
		return cfg, errNoTargets
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func probeInterval(s *settings) time.Duration {
	if s.Probe.Interval == nil {
		return collectors.DefaultProbeInterval
	}
	return *s.Probe.Interval
}
