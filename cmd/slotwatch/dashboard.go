package main

import (
	"flag"
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
