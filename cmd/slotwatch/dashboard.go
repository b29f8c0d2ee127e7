package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
)

// dashboardFlags are the flags watch and demo share.
type dashboardFlags struct {
	groupIdleOver time.Duration
}

func (d *dashboardFlags) register(fs *flag.FlagSet) {
	durationVar(fs, &d.groupIdleOver, "group-idle-over", 0, time.Second, maxDuration,
		"G in the dashboard terminates the group's sessions idle longer than this (default actions.group_idle_over, else 10m)")
}

// idleOver is N for G: the flag, else the config file, else 10 minutes.
func (d *dashboardFlags) idleOver(s *settings) time.Duration {
	switch {
	case d.groupIdleOver > 0:
		return d.groupIdleOver
	case s != nil && s.Actions.GroupIdleOver > 0:
		return s.Actions.GroupIdleOver
	default:
		return 10 * time.Minute
	}
}

// actionDrivers are the mitigations' drivers on the collectors' own
// connections (contract C2): an action runs on the collector's connection
// between two ticks, so the console holds one connection per server and an
// action works even when the server has no slot left for a new one. A
// source that is not configured has no driver.
func actionDrivers(set *collectors.Set) (pg actions.PGDriver, rds actions.RedisDriver) {
	if r := set.PG(); r != nil {
		pg = actions.NewPGDriver(r)
	}
	if r := set.Redis(); r != nil {
		rds = actions.NewRedisDriver(r)
	}
	return pg, rds
}

// dialActions opens the connections the mitigations use: one to PostgreSQL
// and one to Redis, separate from the collectors'. A server that cannot be
// reached now (its slots may be exhausted: that is the incident) is dialled
// again on the first action; notice says so, and the dashboard starts
// anyway, since watching matters most.
func dialActions(ctx context.Context, s *settings) (pg actions.PGDriver, rds actions.RedisDriver, notice string, closeAll func()) {
	var notes []string
	var closers []func()
	if s.PG != "" {
		if c, err := actions.DialPostgres(ctx, s.PG); err != nil {
			notes = append(notes, fmt.Sprintf("No PostgreSQL connection for actions yet (%v); the first action retries.", err))
			l := &lazyPG{dsn: s.PG}
			pg, closers = l, append(closers, l.close)
		} else {
			pg = c
			closers = append(closers, func() { _ = c.Close(context.Background()) })
		}
	}
	if s.Redis != "" {
		if c, err := actions.DialRedis(ctx, s.Redis); err != nil {
			notes = append(notes, fmt.Sprintf("No Redis connection for actions yet (%v); the first action retries.", err))
			l := &lazyRedis{url: s.Redis}
			rds, closers = l, append(closers, l.close)
		} else {
			rds = c
			closers = append(closers, func() { _ = c.Close() })
		}
	}
	return pg, rds, strings.Join(notes, " "), func() {
		for _, c := range closers {
			c()
		}
	}
}

// lazyPG is a PostgreSQL action driver that connects on first use. Its
// Server name stays the redacted DSN, so a plan previewed before and
// executed after the connection opened still matches.
type lazyPG struct {
	dsn  string
	mu   sync.Mutex
	conn *actions.PGConn
}

func (l *lazyPG) get(ctx context.Context) (*actions.PGConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		c, err := actions.DialPostgres(ctx, l.dsn)
		if err != nil {
			return nil, err
		}
		l.conn = c
	}
	return l.conn, nil
}

func (l *lazyPG) Server() string { return collectors.RedactDSN(l.dsn) }

func (l *lazyPG) OwnPID() int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.OwnPID()
}

func (l *lazyPG) Backends(ctx context.Context) ([]actions.Backend, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.Backends(ctx)
}

func (l *lazyPG) Signal(ctx context.Context, kind actions.Kind, targets []actions.Backend, recheck actions.SessionFilter, protect actions.Protection) ([]actions.TargetResult, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.Signal(ctx, kind, targets, recheck, protect)
}

// Statement describes the signalling statement once connected (the
// statement depends on the server version).
func (l *lazyPG) Statement(kind actions.Kind, recheck actions.SessionFilter, protect actions.Protection) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return fmt.Sprintf("SELECT pg_%s_backend(pid) for each previewed backend, re-checked in the same statement", kind)
	}
	return l.conn.Statement(kind, recheck, protect)
}

func (l *lazyPG) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_ = l.conn.Close(context.Background())
	}
}

// lazyRedis is a Redis action driver that connects on first use.
type lazyRedis struct {
	url  string
	mu   sync.Mutex
	conn *actions.RedisConn
}

func (l *lazyRedis) get(ctx context.Context) (*actions.RedisConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		c, err := actions.DialRedis(ctx, l.url)
		if err != nil {
			return nil, err
		}
		l.conn = c
	}
	return l.conn, nil
}

func (l *lazyRedis) Server() string { return collectors.RedactURL(l.url) }

func (l *lazyRedis) OwnID() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.OwnID()
}

func (l *lazyRedis) Clients(ctx context.Context) ([]collectors.RedisClient, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.Clients(ctx)
}

func (l *lazyRedis) Kill(ctx context.Context, id int64) (bool, error) {
	c, err := l.get(ctx)
	if err != nil {
		return false, err
	}
	return c.Kill(ctx, id)
}

func (l *lazyRedis) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_ = l.conn.Close()
	}
}

// throttledHook records about one snapshot per interval: every source
// publishes the merged snapshot when it samples, which would otherwise write
// several nearly equal lines a second. A tenth of the interval of slack
// keeps sampling jitter from skipping every other interval.
func throttledHook(every time.Duration, write func(collectors.Snapshot) error) func(collectors.Snapshot) error {
	var last time.Time
	return func(s collectors.Snapshot) error {
		if !last.IsZero() && s.TakenAt.Sub(last) < every-every/10 {
			return nil
		}
		last = s.TakenAt
		return write(s)
	}
}

// warmUp runs the simulation through d of simulated time before the screen
// opens, so the demo shows firing alerts, trends and findings at once
// instead of after the rules' `for` durations.
func warmUp(sim *demo.Sim, pipe *analysis.Pipeline, d, step time.Duration) {
	for t := time.Duration(0); t < d; t += step {
		pipe.Step(sim.Snapshot())
		sim.Advance(step)
	}
}

// noColor honours NO_COLOR (https://no-color.org): any value turns colour off.
func noColor(env *environment) bool { return env.getenv("NO_COLOR") != "" }
