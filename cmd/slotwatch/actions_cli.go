package main

// Shared wiring of the mitigation commands (terminate, redis-kill, guard):
// policy and service construction, list flags, output helpers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/termtext"
)

// actionDeps is an opened Service and what must be closed after it.
type actionDeps struct {
	svc   *actions.Service
	pg    *actions.PGConn
	rds   *actions.RedisConn
	audit *actions.AuditLog
}

func (d *actionDeps) close() {
	if d.pg != nil {
		_ = d.pg.Close(context.Background())
	}
	if d.rds != nil {
		_ = d.rds.Close()
	}
	_ = d.audit.Close()
}

// openActions opens the audit log and the requested drivers. Read-only, a
// mutating command connects to nothing (nothing may run, so it takes no
// connection slot); readOnlyOK commands (guard show) still connect.
func openActions(ctx context.Context, env *environment, s *settings, needPG, needRedis, readOnlyOK bool) (*actionDeps, error) {
	audit, err := actions.OpenAuditLog(s.AuditLog)
	if err != nil {
		return nil, err
	}
	d := &actionDeps{audit: audit}
	if !s.ReadOnly || readOnlyOK {
		if err := d.dial(ctx, s, needPG, needRedis); err != nil {
			d.close()
			return nil, err
		}
	}
	var pg actions.PGDriver
	var rds actions.RedisDriver
	if d.pg != nil {
		pg = d.pg
	}
	if d.rds != nil {
		rds = d.rds
	}
	d.svc = actions.NewService(pg, rds, s.policy(), audit, actions.CurrentOperator(env.getenv))
	return d, nil
}

func (d *actionDeps) dial(ctx context.Context, s *settings, needPG, needRedis bool) error {
	if err := validateTargets(s, needPG, needRedis); err != nil {
		return err
	}
	var err error
	if needPG {
		if d.pg, err = actions.DialPostgres(ctx, s.PG); err != nil {
			return err
		}
	}
	if needRedis {
		if d.rds, err = actions.DialRedis(ctx, s.Redis); err != nil {
			return err
		}
	}
	return nil
}

// validateTargets checks the targets a command needs before it dials
// them, with the collectors' parser and its redaction: a malformed DSN or
// URL is named without any piece of its password (a parser's own message
// may quote it).
func validateTargets(s *settings, needPG, needRedis bool) error {
	var cfg collectors.Config
	if needPG {
		if s.PG == "" {
			return usageError{errors.New("no PostgreSQL target: pass --pg DSN or set SLOTWATCH_PG (or PGHOST and the other PG* variables)")}
		}
		cfg.PG = &collectors.PGConfig{DSN: s.PG}
	}
	if needRedis {
		if s.Redis == "" {
			return usageError{errors.New("no Redis target: pass --redis URL or set SLOTWATCH_REDIS")}
		}
		cfg.Redis = &collectors.RedisConfig{URL: s.Redis}
	}
	// exit 1, as snapshot and watch exit for the same DSN
	return cfg.Validate()
}

// usageError marks an error caused by the command line (exit 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// exitFor maps an error to the exit status and prints its sentence.
func exitFor(env *environment, err error) int {
	errorSentence(env, err)
	var u usageError
	switch {
	case actions.IsRefused(err):
		return exitRefused
	case errors.As(err, &u):
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
