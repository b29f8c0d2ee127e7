package main

// Shared wiring of the mitigation commands (terminate, redis-kill, guard):
// policy and service construction, list flags, output helpers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/termtext"
)

// actionDeps is an opened fleet of the servers a command acts on and what
// must be closed after it.
type actionDeps struct {
	svc   *actions.Fleet
	pgs   []*actions.PGConn
	rdss  []*actions.RedisConn
	audit *actions.AuditLog
}

func (d *actionDeps) close() {
	for _, c := range d.pgs {
		_ = c.Close(context.Background())
	}
	for _, c := range d.rdss {
		_ = c.Close()
	}
	_ = d.audit.Close()
}

// setTerminateTimeout sets how long every PostgreSQL driver waits for a
// terminated backend to exit.
func (d *actionDeps) setTerminateTimeout(t time.Duration) {
	for _, c := range d.pgs {
		c.TerminateTimeout = t
	}
}

// actionTargets are the servers a command acts on, by kind.
type actionTargets struct {
	pg, redis []serverEntry
}

// pickTargets chooses the servers of the kinds a command needs: the one
// --server names, or the only one of that kind (several and no --server:
// refused, listing them). all picks every configured server instead when
// --server is empty (guard show).
func pickTargets(s *settings, server string, needPG, needRedis, all bool) (actionTargets, error) {
	var t actionTargets
	if all && server == "" {
		if needPG {
			t.pg = s.servers.pg
		}
		if needRedis {
			t.redis = s.servers.redis
		}
		return t, nil
	}
	if all {
		// --server names one server of either kind.
		needPG, needRedis = s.servers.has(kindPG, server), s.servers.has(kindRedis, server)
		if !needPG && !needRedis {
			names := append(s.servers.names(kindPG), s.servers.names(kindRedis)...)
			known := "none is configured"
			if len(names) > 0 {
				known = "the servers are " + strings.Join(names, ", ")
			}
			return t, usageError{fmt.Errorf("--server %s names no configured server; %s", display(server), known)}
		}
	}
	for _, k := range []struct {
		need bool
		kind string
		dst  *[]serverEntry
	}{{needPG, kindPG, &t.pg}, {needRedis, kindRedis, &t.redis}} {
		if !k.need {
			continue
		}
		e, err := s.servers.pick(k.kind, server)
		if err != nil {
			return t, err
		}
		if e.Target != "" {
			*k.dst = []serverEntry{e}
		}
	}
	return t, nil
}

// openActions opens the audit log and a driver for each picked server.
// Read-only, a mutating command connects to nothing (nothing may run, so
// it takes no connection slot); readOnlyOK commands (guard show) still
// connect.
func openActions(ctx context.Context, env *environment, s *settings, t actionTargets, needPG, needRedis, readOnlyOK bool) (*actionDeps, error) {
	if err := validateTargets(t, needPG, needRedis); err != nil {
		return nil, err
	}
	audit, err := actions.OpenAuditLog(s.AuditLog)
	if err != nil {
		return nil, err
	}
	d := &actionDeps{audit: audit}
	if !s.ReadOnly || readOnlyOK {
		if err := d.dial(ctx, t); err != nil {
			d.close()
			return nil, err
		}
	}
	if d.svc, err = d.fleet(s, t, actions.CurrentOperator(env.getenv)); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *actionDeps) dial(ctx context.Context, t actionTargets) error {
	for _, e := range t.pg {
		c, err := actions.DialPostgres(ctx, e.Target)
		if err != nil {
			return err
		}
		d.pgs = append(d.pgs, c)
	}
	for _, e := range t.redis {
		c, err := dialRedis(ctx, e)
		if err != nil {
			return err
		}
		d.rdss = append(d.rdss, c)
	}
	return nil
}

// fleet is the opened drivers as one fleet (no driver at all when
// read-only kept them closed). With one server configured it is a plain
// service, so plans and JSON are as they always were; with several, every
// server is a member under its name, which plans and audit lines carry.
func (d *actionDeps) fleet(s *settings, t actionTargets, op actions.Operator) (*actions.Fleet, error) {
	policy := s.policy()
	pgAt := func(i int) actions.PGDriver {
		if i < len(d.pgs) {
			return d.pgs[i]
		}
		return nil
	}
	redisAt := func(i int) actions.RedisDriver {
		if i < len(d.rdss) {
			return d.rdss[i]
		}
		return nil
	}
	if !s.servers.several() {
		return actions.SingleFleet(actions.NewService(pgAt(0), redisAt(0), policy, d.audit, op)), nil
	}
	var members []actions.NamedService
	for i, e := range t.pg {
		members = append(members, actions.NamedService{Name: e.label(kindPG), Kind: kindPG,
			Service: actions.NewService(pgAt(i), nil, policy, d.audit, op)})
	}
	for i, e := range t.redis {
		members = append(members, actions.NamedService{Name: e.label(kindRedis), Kind: kindRedis,
			Service: actions.NewService(nil, redisAt(i), policy, d.audit, op)})
	}
	if len(members) == 0 {
		return actions.SingleFleet(actions.NewService(nil, nil, policy, d.audit, op)), nil
	}
	return actions.NewFleet(members...)
}

func dialRedis(ctx context.Context, e serverEntry) (*actions.RedisConn, error) {
	if e.Cluster && !actions.IsClusterURL(e.Target) {
		return actions.DialRedisCluster(ctx, e.Target)
	}
	return actions.DialRedis(ctx, e.Target)
}

// validateTargets checks the targets a command needs before it dials
// them, with the collectors' parser and its redaction: a malformed DSN or
// URL is named without any piece of its password (a parser's own message
// may quote it).
func validateTargets(t actionTargets, needPG, needRedis bool) error {
	var cfg collectors.Config
	if needPG && len(t.pg) == 0 {
		return usageError{errors.New("no PostgreSQL target: pass --pg DSN or set SLOTWATCH_PG (or PGHOST and the other PG* variables)")}
	}
	if needRedis && len(t.redis) == 0 {
		return usageError{errors.New("no Redis target: pass --redis URL or set SLOTWATCH_REDIS")}
	}
	// The first of each kind as the primary, so that one target's errors
	// read as they always did.
	for i, e := range t.pg {
		pg := collectors.PGConfig{Name: e.label(kindPG), DSN: e.Target}
		if i == 0 {
			cfg.PG = &pg
		} else {
			cfg.MorePG = append(cfg.MorePG, pg)
		}
	}
	for i, e := range t.redis {
		r := collectors.RedisConfig{Name: e.label(kindRedis), URL: e.Target, Cluster: e.Cluster}
		if i == 0 {
			cfg.Redis = &r
		} else {
			cfg.MoreRedis = append(cfg.MoreRedis, r)
		}
	}
	return cfg.Validate()
}

// usageError marks an error caused by the command line (exit 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// exitFor maps an error to the exit status and prints its sentence.
func exitFor(env *environment, err error) int {
	errorSentence(env, err)
	var u usageError
	var invalid *collectors.InvalidTargetError
	switch {
	case actions.IsRefused(err):
		return exitRefused
	case errors.As(err, &u), errors.As(err, &invalid):
		return exitUsage
	default:
		return exitError
	}
}

// actionOutput is the JSON of terminate and redis-kill: the plan, and the
// per-target results once executed.
type actionOutput[P any] struct {
	Executed bool                   `json:"executed"`
	Plan     P                      `json:"plan"`
	Results  []actions.TargetResult `json:"results"`
	Counts   map[string]int         `json:"counts,omitempty"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func countsJSON(results []actions.TargetResult) map[string]int {
	out := map[string]int{}
	for o, n := range actions.Counts(results) {
		out[string(o)] = n
	}
	return out
}

// printResults prints one line per target and the summary line.
func printResults(w io.Writer, noun string, results []actions.TargetResult) {
	for _, r := range results {
		if r.Reason != "" && r.Outcome != actions.Done {
			fmt.Fprintf(w, "  %s %d: %s: %s\n", noun, r.ID, r.Outcome, r.Reason)
		} else {
			fmt.Fprintf(w, "  %s %d: %s\n", noun, r.ID, r.Outcome)
		}
	}
	c := actions.Counts(results)
	fmt.Fprintf(w, "done %d, already gone %d, skipped %d, failed %d.\n", c[actions.Done], c[actions.Gone], c[actions.Skipped], c[actions.Failed])
}

// resultExit is 1 when any target failed, else 0: skipped targets are the
// safety policy working, not an error.
func resultExit(results []actions.TargetResult) int {
	if actions.Counts(results)[actions.Failed] > 0 {
		return exitError
	}
	return exitOK
}

func printNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// cell is server text in a table cell: one line, no control characters
// (the writer cleans them too; a newline in a role name must not break the
// row either).
func cell(s string) string { return termtext.OneLine(s) }

// serverTitle names the server a plan acts on: "replica-1 (db2:5432)" when
// several are configured, the redacted target alone otherwise.
func serverTitle(name, target string) string {
	if name == "" {
		return target
	}
	return name + " (" + target + ")"
}

func seconds(f float64) string {
	return time.Duration(f * float64(time.Second)).Round(time.Second).String()
}

func shortClient(c collectors.RedisClient) string {
	name := c.Name
	if name == "" {
		name = "-"
	}
	return name
}
