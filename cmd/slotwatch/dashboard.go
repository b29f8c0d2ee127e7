package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
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
	fs.DurationVar(&d.groupIdleOver, "group-idle-over", 10*time.Minute,
		"G in the dashboard terminates the group's sessions idle longer than this")
}

// dashRules are the built-in alert rules with the config file's overrides.
func dashRules(s *settings) ([]analysis.Rule, error) {
	o := make(map[string]analysis.Override, len(s.Alerts))
	for name, a := range s.Alerts {
		o[name] = analysis.Override{Threshold: a.Threshold, For: a.For, Disabled: a.Disabled}
	}
	return analysis.ApplyOverrides(analysis.DefaultRules(), o)
}

// dashPolicy is the default safety policy with the config file's additions:
// configured protected applications are added to the built-in ones, never
// replace them.
func dashPolicy(s *settings) actions.Policy {
	p := actions.DefaultPolicy()
	p.ProtectedApps = append(p.ProtectedApps, s.Actions.ProtectedApps...)
	p.AllowSuperuser = s.Actions.AllowSuperuser
	if s.Actions.BatchSize > 0 {
		p.BatchSize = s.Actions.BatchSize
	}
	if s.Actions.BatchInterval > 0 {
		p.BatchInterval = s.Actions.BatchInterval
	}
	p.ReadOnly = s.ReadOnly
	return p
}

// dialActions opens the connections the mitigations use: one to PostgreSQL
// and one to Redis, separate from the collectors'. A server that cannot be
// reached leaves its actions unavailable and says why in notice; the
// dashboard still starts, since watching matters most in an incident.
func dialActions(ctx context.Context, s *settings) (pg actions.PGDriver, rds actions.RedisDriver, notice string, closeAll func()) {
	var notes []string
	var closers []func()
	if s.PG != "" {
		if c, err := actions.DialPostgres(ctx, s.PG); err != nil {
			notes = append(notes, fmt.Sprintf("PostgreSQL actions unavailable: %v", err))
		} else {
			pg = c
			closers = append(closers, func() { _ = c.Close(context.Background()) })
		}
	}
	if s.Redis != "" {
		if c, err := actions.DialRedis(ctx, s.Redis); err != nil {
			notes = append(notes, fmt.Sprintf("Redis actions unavailable: %v", err))
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
