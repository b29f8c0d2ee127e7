package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

// PGDriver returns the actions driver over the simulated PostgreSQL server.
func (s *Sim) PGDriver() actions.PGDriver { return &pgDriver{sim: s} }

// RedisDriver returns the actions driver over the simulated Redis server.
func (s *Sim) RedisDriver() actions.RedisDriver { return &redisDriver{sim: s} }

type pgDriver struct{ sim *Sim }

func (d *pgDriver) Server() string { return pgTarget + " (simulated)" }

func (d *pgDriver) OwnPID() int32 {
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	return d.sim.pg.collectorPID
}

// Backends lists every client backend, slotwatch's own included, as the
// real driver reads them from pg_stat_activity.
func (d *pgDriver) Backends(ctx context.Context) ([]actions.Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list backends: %w", err)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	now := d.sim.now
	out := make([]actions.Backend, 0, len(d.sim.pg.backends))
	for _, b := range d.sim.pg.backends {
		out = append(out, b.live(now).actionsBackend(now))
	}
	return out, nil
}

func (b backend) actionsBackend(now time.Time) actions.Backend {
	return actions.Backend{
		PID: b.pid, BackendStart: b.start, BackendType: "client backend", Usename: b.user,
		Superuser: b.superuser, ApplicationName: b.app, Datname: b.db, ClientAddr: b.client,
		State: b.state, StateSeconds: seconds(now, b.stateChange), Query: b.query,
	}
}

// Signal re-checks each target at the simulated instant, as the real
// driver's single statement does: same backend_start, same state (or one of
// the filter's states), still matching the filter; only then it signals.
func (d *pgDriver) Signal(ctx context.Context, kind actions.Kind, targets []actions.Backend, recheck actions.SessionFilter, protect actions.Protection) ([]actions.TargetResult, error) {
	if kind != actions.Cancel && kind != actions.Terminate {
		return nil, fmt.Errorf("signal: unknown kind %q; use cancel or terminate", kind)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	now := d.sim.now
	out := make([]actions.TargetResult, 0, len(targets))
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("%s pid %d: %w", kind, t.PID, err)
		}
		r := actions.TargetResult{ID: int64(t.PID)}
		_, b := d.sim.pg.find(t.PID)
		switch {
		case b == nil:
			r.Outcome, r.Reason = actions.Gone, "already gone"
		case !b.start.Equal(t.BackendStart):
			r.Outcome, r.Reason = actions.Skipped, fmt.Sprintf("pid %d now belongs to another backend", t.PID)
		case protect.Excludes(b.live(now).actionsBackend(now), d.sim.pg.collectorPID) != "":
			r.Outcome, r.Reason = actions.Skipped, "protected now: "+protect.Excludes(b.live(now).actionsBackend(now), d.sim.pg.collectorPID)
		case !sameState(b.state, t.State, recheck.States):
			r.Outcome, r.Reason = actions.Skipped, fmt.Sprintf("its state is now %q (%q at the preview)", b.state, t.State)
		case !stillMatches(recheck, b.live(now).actionsBackend(now)):
			r.Outcome, r.Reason = actions.Skipped, "it no longer matches the filter"
		case kind == actions.Terminate:
			d.sim.pg.terminate(t.PID, now)
			r.Outcome = actions.Done
		default:
			r.Outcome = actions.Done
			if !d.sim.pg.cancel(t.PID, now) {
				r.Reason = "the session was not running a statement: cancel has no effect on it"
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func sameState(now, previewed string, states []string) bool {
	if len(states) > 0 {
		return slices.Contains(states, now)
	}
	return now == previewed
}

// stillMatches re-checks with the actions package's own filter (globs
// included), as the real signalling statement does; a filter that does not
// compile matches nothing.
func stillMatches(f actions.SessionFilter, b actions.Backend) bool {
	ok, err := f.Matches(b)
	return err == nil && ok
}

type redisDriver struct{ sim *Sim }

func (d *redisDriver) Server() string { return redisTarget + " (simulated)" }

func (d *redisDriver) OwnID() int64 {
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	return d.sim.redis.driverID
}

// Clients is CLIENT LIST as the driver's own connection sees it.
func (d *redisDriver) Clients(ctx context.Context) ([]collectors.RedisClient, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list Redis clients: %w", err)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	return d.sim.redis.list(d.sim.now, true), nil
}

// Kill closes one client; false means it was already gone.
func (d *redisDriver) Kill(ctx context.Context, c collectors.RedisClient) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("kill Redis client %d: %w", c.ID, err)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	return d.sim.redis.kill(c.ID, d.sim.now), nil
}
