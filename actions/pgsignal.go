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

// awaiting is a target the batch statement signalled (or found already
// exiting) whose exit is not verified yet. Each target has its own deadline,
// so a pipelined terminate still settles every target on its own: Done only
// once its (pid, backend_start) is gone, Failed when still there after the
// deadline.
type awaiting struct {
	target   Backend
	sent     bool      // the signal function returned true
	deadline time.Time // cancel: the signal's own time, checked once
}

// Poll pacing while backends exit: the first check soon after the signal
// (idle backends are gone in tens of milliseconds), then backing off. One
// check costs the server well under a millisecond at 1,000 backends
// (waitStatement looks each pid up, it builds no row per backend).
const (
	firstPoll = 2 * time.Millisecond
	maxPoll   = 20 * time.Millisecond
)

// pollBound bounds one existence check, whoever's context it runs under.
const pollBound = 10 * time.Second

// Signal signals the whole batch with one statement that re-checks identity,
// state, filter and the safety policy per target, then (terminate) waits for
// the signalled backends together until they are gone or the terminate
// timeout passes, all on one use of the session's connection. A connection
// error is returned with the results known so far.
func (c *PGConn) Signal(ctx context.Context, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]TargetResult, error) {
	var out []TargetResult
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		res, wait, err := c.signalOn(ctx, conn, kind, targets, recheck, protect)
		out = res
		if err != nil {
			return err
		}
		settled, err := settleOn(ctx, conn, kind, wait, c.terminateTimeout())
		out = append(out, settled...)
		return err
	})
	return out, err
}

// signalOn signals targets on conn and returns the targets settled by the
// statement itself (skipped, gone, failed, cancel done) and those whose exit
// must be verified.
func (c *PGConn) signalOn(ctx context.Context, conn *pgx.Conn, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]TargetResult, []awaiting, error) {
	res, wait, err := c.signalBatch(ctx, conn, kind, targets, recheck, protect)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(targets) <= 1 {
		return res, wait, err
	}
	// A server error aborted the statement (the privilege check should
	// prevent that): go one target at a time so it is only that target's
	// failure. A target the aborted statement already signalled is
	// re-checked and shows as gone or done.
	res, wait = nil, nil
	for _, t := range targets {
		r, w, err := c.signalBatch(ctx, conn, kind, []Backend{t}, recheck, protect)
		res, wait = append(res, r...), append(wait, w...)
		if err != nil {
			return res, wait, err
		}
	}
	return res, wait, nil
}

func (c *PGConn) signalBatch(ctx context.Context, conn *pgx.Conn, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]TargetResult, []awaiting, error) {
	rows, err := c.runSignal(ctx, conn, kind, targets, recheck, protect)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && len(targets) == 1 {
			return []TargetResult{{ID: int64(targets[0].PID), Outcome: Failed, Reason: c.serverReason(kind, targets[0], pgErr)}}, nil, nil
		}
		return nil, nil, err
	}
	// The deadline runs from the statement's end: the signals were sent
	// by then.
	deadline := time.Now()
	if kind == Terminate {
		deadline = deadline.Add(c.terminateTimeout())
	}
	byPID := make(map[int32]signalRow, len(rows))
	for _, r := range rows {
		byPID[r.pid] = r
	}
	out := make([]TargetResult, 0, len(targets))
	var wait []awaiting
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
			wait = append(wait, awaiting{target: t, sent: r.signalled != nil && *r.signalled, deadline: deadline})
			continue
		default:
			res.Outcome = Done
		}
		out = append(out, res)
	}
	return out, wait, nil
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

// settleOn checks the awaited backends on conn, backing off between checks,
// until every one is settled (gone, or still there at its deadline). When
// ctx ends first, the unsettled ones are reported with their outcome unknown.
func settleOn(ctx context.Context, conn *pgx.Conn, kind Kind, wait []awaiting, timeout time.Duration) ([]TargetResult, error) {
	var out []TargetResult
	pause := firstPoll
	for len(wait) > 0 {
		settled, left, err := pollOn(ctx, conn, kind, wait, timeout)
		out = append(out, settled...)
		if err != nil {
			return append(out, unknown(left, err)...), err
		}
		wait = left
		if len(wait) == 0 {
			break
		}
		if err := sleepCtx(ctx, min(pause, time.Until(earliest(wait)))); err != nil {
			return append(out, unknown(wait, err)...), nil // bounded by the caller; report what is known
		}
		pause = min(2*pause, maxPoll)
	}
	return out, nil
}

// pollOn checks once which awaited backends still exist and settles those
// gone, and those still there at or after their deadline.
func pollOn(ctx context.Context, conn *pgx.Conn, kind Kind, wait []awaiting, timeout time.Duration) (settled []TargetResult, left []awaiting, err error) {
	checked := time.Now() // a backend seen in this check was there at least until now
	alive, err := alivePIDs(ctx, conn, wait)
	if err != nil {
		return nil, wait, err
	}
	for _, w := range wait {
		r := TargetResult{ID: int64(w.target.PID)}
		switch {
		case !alive[w.target.PID] && w.sent:
			r.Outcome = Done
		case !alive[w.target.PID]:
			r.Outcome, r.Reason = Gone, "already gone"
		case kind == Cancel:
			r.Outcome, r.Reason = Failed, "pg_cancel_backend returned false"
		case checked.Before(w.deadline):
			left = append(left, w)
			continue
		case w.sent:
			r.Outcome, r.Reason = Failed, fmt.Sprintf("still running after %s (pg_terminate_backend was sent; it may exit later)", timeout)
		default:
			r.Outcome, r.Reason = Failed, "pg_terminate_backend returned false"
		}
		settled = append(settled, r)
	}
	return settled, left, nil
}

// alivePIDs lists which awaited backends are still there, by (pid,
// backend_start).
func alivePIDs(ctx context.Context, conn *pgx.Conn, wait []awaiting) (map[int32]bool, error) {
	pids := make([]int32, len(wait))
	starts := make([]time.Time, len(wait))
	for i, w := range wait {
		pids[i], starts[i] = w.target.PID, w.target.BackendStart
	}
	rows, err := conn.Query(ctx, waitStatement, pids, starts)
	if err != nil {
		return nil, fmt.Errorf("check whether pids %v exited: %w", pids, err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("check whether pids %v exited: %w", pids, err)
	}
	alive := make(map[int32]bool, len(left))
	for _, p := range left {
		alive[p] = true
	}
	return alive, nil
}

// unknown reports awaited targets whose exit could not be checked.
func unknown(wait []awaiting, err error) []TargetResult {
	out := make([]TargetResult, len(wait))
	for i, w := range wait {
		out[i] = TargetResult{ID: int64(w.target.PID), Outcome: Failed,
			Reason: "outcome unknown (" + err.Error() + "); check whether it is still there"}
	}
	return out
}

// earliest is the nearest deadline among wait (not empty).
func earliest(wait []awaiting) time.Time {
	d := wait[0].deadline
	for _, w := range wait[1:] {
		if w.deadline.Before(d) {
			d = w.deadline
		}
	}
	return d
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

// Pace is how a pipelined session action is paced: the Service passes its
// policy's batch size and interval, and its clock (tests stub Sleep).
type Pace struct {
	BatchSize int
	// Interval is the least time between the starts of two batches: the
	// protection against a stampede, kept whatever the backends do.
	Interval time.Duration
	Now      func() time.Time                                 // nil: time.Now
	Sleep    func(ctx context.Context, d time.Duration) error // nil: a timer that ends with ctx
}

func (p Pace) withDefaults() Pace {
	if p.BatchSize <= 0 {
		p.BatchSize = DefaultPolicy().BatchSize
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	return p
}

// PipelinedSignaller is implemented by a PGDriver (PGConn) that runs a
// whole session action itself, batch after batch, signalling the next batch
// while the backends of the previous ones are still exiting. Results are
// per target as with Signal: each target is verified on its own.
type PipelinedSignaller interface {
	// SignalPipelined signals targets in batches of pace.BatchSize, one
	// batch every pace.Interval at most, each with Signal's statement, and
	// verifies every signalled target's exit by its own deadline.
	//
	// It returns one result for each target of the batches it started
	// (targets[:attempted]). When ctx ends, the batches already signalled
	// are still verified (bounded by the terminate timeout), no further
	// batch starts, and err is ctx's error (or Sleep's). Any other error
	// stopped it: the failing batch's targets are counted as attempted,
	// with their outcome unknown unless known.
	SignalPipelined(ctx context.Context, kind Kind, targets []Backend, recheck SessionFilter, protect Protection, pace Pace) (results []TargetResult, attempted int, err error)
}

var _ PipelinedSignaller = (*PGConn)(nil)

// exitingBatches bounds the pipeline: a batch is signalled only while at
// most this many batches' worth of earlier targets are still exiting, so a
// server slow to reap its backends is not handed more and more of them (the
// interval alone bounds the rate of signals, not how many are exiting).
const exitingBatches = 2

// SignalPipelined: see PipelinedSignaller. Each statement (a batch's
// signal, an existence check) is its own use of the session's connection,
// so a collector sharing it keeps its ticks during a long action.
func (c *PGConn) SignalPipelined(ctx context.Context, kind Kind, targets []Backend, recheck SessionFilter, protect Protection, pace Pace) ([]TargetResult, int, error) {
	pace = pace.withDefaults()
	n := pace.BatchSize
	// Work on batches already signalled outlives ctx (a signal arrived), so
	// their outcomes are the true ones; every such call is bounded.
	bg := context.WithoutCancel(ctx)
	p := pipeline{c: c, kind: kind, timeout: c.terminateTimeout()}
	var started time.Time
	attempted := 0
	var stop error
	for attempted < len(targets) {
		batch := targets[attempted:min(attempted+n, len(targets))]
		if attempted > 0 {
			if stop = p.awaitTurn(ctx, bg, started.Add(pace.Interval), exitingBatches*n, pace); stop != nil {
				break
			}
		}
		if stop = ctx.Err(); stop != nil {
			break
		}
		started = pace.Now()
		stop = p.signal(bg, batch, recheck, protect)
		attempted += len(batch) // signalled, or its outcome unknown
		if stop != nil {
			break
		}
	}
	if err := p.settle(bg); err != nil && stop == nil {
		stop = err
	}
	return completeBatch(targets[:attempted], p.out, stop), attempted, stop
}

// pipeline is one SignalPipelined call's state.
type pipeline struct {
	c       *PGConn
	kind    Kind
	timeout time.Duration
	out     []TargetResult
	wait    []awaiting
	pause   time.Duration // until the next check; reset by each signal
}

// signal signals one batch in one use of the connection.
func (p *pipeline) signal(bg context.Context, batch []Backend, recheck SessionFilter, protect Protection) error {
	ctx, cancel := context.WithTimeout(bg, signalStatementTimeout+pollBound)
	defer cancel()
	return p.c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		res, wait, err := p.c.signalOn(ctx, conn, p.kind, batch, recheck, protect)
		p.out, p.wait = append(p.out, res...), append(p.wait, wait...)
		p.pause = firstPoll
		return err
	})
}

// poll checks the awaited backends once.
func (p *pipeline) poll(bg context.Context) error {
	ctx, cancel := context.WithTimeout(bg, pollBound)
	defer cancel()
	return p.c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		settled, left, err := pollOn(ctx, conn, p.kind, p.wait, p.timeout)
		p.out, p.wait = append(p.out, settled...), left
		return err
	})
}

// awaitTurn verifies exits until the next batch is due (due) and at most
// maxExiting targets are still exiting. With nothing to verify, the rest of
// the interval is pace's Sleep. It returns ctx's error when ctx ends first.
func (p *pipeline) awaitTurn(ctx, bg context.Context, due time.Time, maxExiting int, pace Pace) error {
	for {
		wait := due.Sub(pace.Now())
		if len(p.wait) == 0 {
			return pace.Sleep(ctx, wait)
		}
		if wait <= 0 && len(p.wait) <= maxExiting {
			return ctx.Err()
		}
		d := min(p.pause, time.Until(earliest(p.wait)))
		if wait > 0 {
			d = min(d, wait)
		}
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
		p.pause = min(2*p.pause, maxPoll)
		if err := p.poll(bg); err != nil {
			return err
		}
	}
}

// settle verifies the remaining exits, each until its deadline; targets
// that cannot be checked are reported with their outcome unknown.
func (p *pipeline) settle(bg context.Context) error {
	for len(p.wait) > 0 {
		if err := p.poll(bg); err != nil {
			p.out = append(p.out, unknown(p.wait, err)...)
			p.wait = nil
			return err
		}
		if len(p.wait) == 0 {
			return nil
		}
		_ = sleepCtx(bg, min(p.pause, time.Until(earliest(p.wait))))
		p.pause = min(2*p.pause, maxPoll)
	}
	return nil
}

// completeBatch gives every attempted target exactly one result, in the
// order of targets; a target without one (its batch's statement failed)
// has its outcome unknown. (The Service's completeResults does the same for
// its side; kept apart so this driver does not depend on the Service.)
func completeBatch(targets []Backend, res []TargetResult, err error) []TargetResult {
	byID := make(map[int64]TargetResult, len(res))
	for _, r := range res {
		byID[r.ID] = r
	}
	out := make([]TargetResult, 0, len(targets))
	for _, t := range targets {
		r, ok := byID[int64(t.PID)]
		if !ok {
			reason := "the driver reported no result"
			if err != nil {
				reason = "outcome unknown (" + err.Error() + "); check whether it is still there"
			}
			r = TargetResult{ID: int64(t.PID), Outcome: Failed, Reason: reason}
		}
		out = append(out, r)
	}
	return out
}
