package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// signalRow is one target's row of the batch statement.
type signalRow struct {
	pid                           int32
	present                       bool
	start                         *time.Time
	state                         *string
	fresh                         Backend // what the server says now, for the policy's reason
	sameBackend, sameState, match bool
	protected, maySignal          bool
	signalled                     *bool
}

// Signal signals the whole batch with one statement that re-checks identity,
// state, filter and the safety policy per target, then (terminate) waits for
// the signalled backends together until they are gone or the terminate
// timeout passes. A connection error is returned with the results known so
// far.
func (c *PGConn) Signal(ctx context.Context, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]TargetResult, error) {
	var out []TargetResult
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		res, err := c.signalBatch(ctx, conn, kind, targets, recheck, protect)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && len(targets) > 1 {
			// A server error aborted the statement (the privilege check
			// should prevent that): go one target at a time so it is only
			// that target's failure. A target the aborted statement already
			// signalled is re-checked and shows as gone or done.
			res, err = nil, nil
			for _, t := range targets {
				r, err1 := c.signalBatch(ctx, conn, kind, []Backend{t}, recheck, protect)
				res = append(res, r...)
				if err1 != nil {
					return err1
				}
			}
		}
		out = res
		return err
	})
	return out, err
}

func (c *PGConn) signalBatch(ctx context.Context, conn *pgx.Conn, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]TargetResult, error) {
	rows, err := c.runSignal(ctx, conn, kind, targets, recheck, protect)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && len(targets) == 1 {
			return []TargetResult{{ID: int64(targets[0].PID), Outcome: Failed, Reason: c.serverReason(kind, targets[0], pgErr)}}, nil
		}
		return nil, err
	}
	byPID := make(map[int32]signalRow, len(rows))
	for _, r := range rows {
		byPID[r.pid] = r
	}
	out := make([]TargetResult, 0, len(targets))
	var waitFor []Backend
	for _, t := range targets {
		r, ok := byPID[t.PID]
		res := TargetResult{ID: int64(t.PID)}
		switch {
		case !ok || !r.present:
			res.Outcome, res.Reason = Gone, "already gone"
		case !r.sameBackend:
			res.Outcome, res.Reason = Skipped, fmt.Sprintf("pid %d now belongs to another backend (started %s, previewed %s)",
				t.PID, fmtTime(r.start), t.BackendStart.UTC().Format(time.RFC3339Nano))
		case r.protected:
			res.Outcome, res.Reason = Skipped, "protected now: "+protectedReason(protect, r.fresh)
		case !r.sameState:
			res.Outcome, res.Reason = Skipped, fmt.Sprintf("its state is now %q (%q at the preview)", deref(r.state), t.State)
		case !r.match:
			res.Outcome, res.Reason = Skipped, "it no longer matches the filter"
		case !r.maySignal:
			res.Outcome, res.Reason = Failed, c.privilegeReason(kind, t, r.fresh.Superuser)
		case kind == Terminate || r.signalled == nil || !*r.signalled:
			// Terminate: done once it has exited. A false means the backend
			// was already exiting; the wait tells gone from still there.
			waitFor = append(waitFor, t)
			continue
		default:
			res.Outcome = Done
		}
		out = append(out, res)
	}
	if len(waitFor) == 0 {
		return out, nil
	}
	waited, err := c.waitGone(ctx, conn, kind, waitFor, byPID)
	return append(out, waited...), err
}

func protectedReason(protect Protection, fresh Backend) string {
	if reason := protect.Excludes(fresh, 0); reason != "" {
		return reason
	}
	return "the safety policy protects it (re-checked on the server)"
}

// runSignal runs the batch statement with a statement_timeout of its own
// (SET LOCAL: the borrowed connection's setting is back at COMMIT).
func (c *PGConn) runSignal(ctx context.Context, conn *pgx.Conn, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]signalRow, error) {
	pids := make([]int32, len(targets))
	starts := make([]time.Time, len(targets))
	states := make([]*string, len(targets))
	for i, t := range targets {
		pids[i], starts[i] = t.PID, t.BackendStart
		if t.State != "" {
			states[i] = &t.State
		}
	}
	_, regexps := protect.Protected()
	args := []any{pids, starts, states, regexps, protect.AllowSuperuser()}
	sql := signalStatement(kind, recheck, protect, &args)

	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: begin: %w", kind, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", signalStatementTimeout.Milliseconds())); err != nil {
		return nil, fmt.Errorf("%s: set statement_timeout: %w", kind, err)
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s pids %v: %w", kind, pids, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (signalRow, error) {
		var r signalRow
		err := row.Scan(&r.pid, &r.present, &r.start, &r.state, &r.fresh.BackendType, &r.fresh.Superuser, &r.fresh.ApplicationName,
			&r.fresh.Own, &r.sameBackend, &r.sameState, &r.match, &r.protected, &r.maySignal, &r.signalled)
		r.fresh.PID = r.pid
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s pids %v: %w", kind, pids, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", kind, err)
	}
	return out, nil
}

// waitGone polls pg_stat_activity for the signalled backends until all have
// exited or the terminate timeout passes. Cancel only checks once, for
// backends the signal found already gone.
func (c *PGConn) waitGone(ctx context.Context, conn *pgx.Conn, kind Kind, targets []Backend, rows map[int32]signalRow) ([]TargetResult, error) {
	pids := make([]int32, len(targets))
	starts := make([]time.Time, len(targets))
	for i, t := range targets {
		pids[i], starts[i] = t.PID, t.BackendStart
	}
	timeout := c.terminateTimeout()
	deadline := time.Now().Add(timeout)
	pause := 2 * time.Millisecond
	var alive map[int32]bool
	for {
		var err error
		if alive, err = alivePIDs(ctx, conn, pids, starts); err != nil {
			return nil, fmt.Errorf("check whether pids %v exited: %w", pids, err)
		}
		if len(alive) == 0 || kind == Cancel || time.Now().After(deadline) {
			break
		}
		if err := sleepCtx(ctx, min(pause, time.Until(deadline))); err != nil {
			break // bounded by the caller; report what is known
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
	out := make([]TargetResult, 0, len(targets))
	for _, t := range targets {
		r := TargetResult{ID: int64(t.PID)}
		sent := rows[t.PID].signalled != nil && *rows[t.PID].signalled
		switch {
		case !alive[t.PID] && sent:
			r.Outcome = Done
		case !alive[t.PID]:
			r.Outcome, r.Reason = Gone, "already gone"
		case kind == Cancel:
			r.Outcome, r.Reason = Failed, "pg_cancel_backend returned false"
		case sent:
			r.Outcome, r.Reason = Failed, fmt.Sprintf("still running after %s (pg_terminate_backend was sent; it may exit later)", timeout)
		default:
			r.Outcome, r.Reason = Failed, "pg_terminate_backend returned false"
		}
		out = append(out, r)
	}
	return out, nil
}

func alivePIDs(ctx context.Context, conn *pgx.Conn, pids []int32, starts []time.Time) (map[int32]bool, error) {
	rows, err := conn.Query(ctx, waitStatement, pids, starts)
	if err != nil {
		return nil, err
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	alive := make(map[int32]bool, len(left))
	for _, p := range left {
		alive[p] = true
	}
	return alive, nil
}

// serverReason turns a server error on one target into its reason.
func (c *PGConn) serverReason(kind Kind, t Backend, e *pgconn.PgError) string {
	if e.Code == "42501" {
		return c.privilegeReason(kind, t, t.Superuser)
	}
	return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
}

// privilegeReason is the sentence naming the privilege the role lacks.
func (c *PGConn) privilegeReason(kind Kind, t Backend, superuser bool) string {
	role := c.Role()
	if superuser {
		return fmt.Sprintf("permission denied: only a superuser may %s a superuser's session, and %s is not one", kind, role)
	}
	return fmt.Sprintf("permission denied: role %s needs pg_signal_backend (GRANT pg_signal_backend TO %s) or membership in role %s to %s this session",
		role, quoteIdent(role), quoteIdent(t.Usename), kind)
}
