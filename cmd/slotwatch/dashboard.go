package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/tui"
)

// dashboardFlags are the flags watch and demo share.
type dashboardFlags struct {
	groupIdleOver time.Duration
}

func (d *dashboardFlags) register(fs *flag.FlagSet) {
	durationVar(fs, &d.groupIdleOver, "group-idle-over", 0, time.Second, maxDuration,
		"G in the dashboard terminates the group's sessions idle longer than this (default actions.group_idle_over, else 10m)")
}

// idleOver is N for G: the flag, else the config file, else the
// dashboard's default.
func (d *dashboardFlags) idleOver(s *settings) time.Duration {
	switch {
	case d.groupIdleOver > 0:
		return d.groupIdleOver
	case s != nil && s.Actions.GroupIdleOver > 0:
		return s.Actions.GroupIdleOver
	default:
		return tui.DefaultGroupIdleOver
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

// actionFleet is one actions.Service per configured server, each on its
// collector's connection (actionDrivers' rule, per server), routed by
// server name; for a single target it is that one service. When the set
// can attach fleet instances, the fleet reaches them too, by name.
func actionFleet(set *collectors.Set, policy actions.Policy, audit *actions.AuditLog, op actions.Operator) (*actions.Fleet, error) {
	f, err := configuredFleet(set, policy, audit, op)
	if err != nil || set.MaxLive() == 0 {
		return f, err
	}
	return f.WithLive(liveServers{set}), nil
}

func configuredFleet(set *collectors.Set, policy actions.Policy, audit *actions.AuditLog, op actions.Operator) (*actions.Fleet, error) {
	if !set.Listed() || len(set.Servers()) == 0 {
		pg, rds := actionDrivers(set)
		return actions.SingleFleet(actions.NewService(pg, rds, policy, audit, op)), nil
	}
	var members []actions.NamedService
	for _, srv := range set.Servers() {
		var svc *actions.Service
		switch srv.Kind {
		case collectors.SourcePostgres:
			r := set.PGServer(srv.Name)
			if r == nil {
				return nil, fmt.Errorf("the PostgreSQL server %s has no collector to act through", srv.Name)
			}
			svc = actions.NewService(actions.NewPGDriver(r), nil, policy, audit, op)
		case collectors.SourceRedis:
			r := set.RedisServer(srv.Name)
			if r == nil {
				return nil, fmt.Errorf("the Redis server %s has no collector to act through", srv.Name)
			}
			svc = actions.NewService(nil, actions.NewRedisDriver(r), policy, audit, op)
		default:
			continue
		}
		members = append(members, actions.NamedService{Name: srv.Name, Kind: srv.Kind, Primary: srv.Primary, Service: svc})
	}
	return actions.NewFleet(members...)
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
