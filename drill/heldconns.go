package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Kinds of session, named after the state pg_stat_activity shows for them.
const (
	kindIdle     = "idle"
	kindIdleInTx = "idle in transaction"
	kindWaiter   = "waiting"
	kindActive   = "active"
)

// The statements the sessions run, written as Django would send them.
var (
	requestSQL = `SELECT "candidates"."id", "candidates"."name", "candidates"."email" FROM "candidates" ORDER BY "candidates"."created_at" DESC LIMIT 21`
	lockSQL    = fmt.Sprintf(`UPDATE "jobs" SET "status" = "status" WHERE "jobs"."id" = %d`, LockedJob)
	openTxSQL  = `SELECT COUNT(*) AS "__count" FROM "candidates"`
	reportSQL  = `SELECT COUNT(*) AS "__count", pg_sleep(1.5) FROM "applications"`
)

// heldConn is one connection the drill holds, like one Django worker
// thread's persistent connection.
type heldConn struct {
	use  sync.Mutex // held while the connection runs a statement
	conn *pgx.Conn
	// pid is the backend pid, or through a pooler (whose clients have no
	// backend of their own) the drill's number for the client.
	pid    uint32
	pooled bool

	meta  sync.Mutex
	kind  string
	note  string
	alive bool
}

// String names the connection in progress lines: "session pid 4711", or
// "client 7" through a pooler.
func (s *heldConn) String() string {
	if s.pooled {
		return fmt.Sprintf("client %d", s.pid)
	}
	return fmt.Sprintf("session pid %d", s.pid)
}

func (s *heldConn) state() (kind string, alive bool) {
	s.meta.Lock()
	defer s.meta.Unlock()
	return s.kind, s.alive
}

func (s *heldConn) setKind(kind, note string) {
	s.meta.Lock()
	defer s.meta.Unlock()
	s.kind, s.note = kind, note
}

// markGone records that the server closed the session; it reports whether
// the session was alive until now.
func (s *heldConn) markGone() bool {
	s.meta.Lock()
	defer s.meta.Unlock()
	was := s.alive
	s.alive = false
	return was
}

// close ends the session from our side and reports whether it was alive.
func (s *heldConn) close() bool {
	was := s.markGone()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.conn.Close(ctx)
	return was
}

func (d *Drill) openSession(ctx context.Context, kind string) (*heldConn, error) {
	c, err := pgx.ConnectConfig(ctx, d.setup.app.Copy())
	if err != nil {
		return nil, err
	}
	s := &heldConn{conn: c, pid: c.PgConn().PID(), kind: kind, alive: true, pooled: d.setup.pooled}
	// Every Django worker served at least one request on its connection.
	// Through a pooler that request may wait for a server connection, as
	// the application's do: it is sent once the stage is set
	// (firstRequests), so that opening the clients never waits on the pool.
	if !s.pooled {
		if _, err := c.Exec(ctx, requestSQL); err != nil {
			_ = c.Close(ctx)
			return nil, fmt.Errorf("first request on %s: %w", s, err)
		}
	}
	d.mu.Lock()
	if s.pooled {
		s.pid = uint32(len(d.sessions) + 1)
	}
	d.sessions = append(d.sessions, s)
	d.mu.Unlock()
	return s, nil
}

// firstRequests sends every idle client's first request through the pooler
// in the background: each waits for a server connection as long as the
// pool makes it (cl_waiting), as the application's requests do.
func (d *Drill) firstRequests() {
	for _, s := range d.sessionsOf(kindIdle) {
		if !s.use.TryLock() {
			continue
		}
		d.wg.Add(1)
		go d.request(s)
	}
}

// request serves one request on s, which the caller has locked; a
// failure other than the drill's own end means the session is gone.
func (d *Drill) request(s *heldConn) {
	defer d.wg.Done()
	defer s.use.Unlock()
	if _, err := s.conn.Exec(d.ctx, requestSQL); err != nil && d.ctx.Err() == nil {
		d.gone(s, err)
	}
}

// openSessions connects the planned sessions a few at a time.
func (d *Drill) openSessions(ctx context.Context) error {
	kinds := make([]string, 0, d.plan.Total())
	for _, k := range []struct {
		kind string
		n    int
	}{{kindIdleInTx, d.plan.IdleInTx}, {kindWaiter, d.plan.Waiters}, {kindActive, d.plan.Active}, {kindIdle, d.plan.Idle}} {
		for i := 0; i < k.n; i++ {
			kinds = append(kinds, k.kind)
		}
	}
	const batch = 8
	for start := 0; start < len(kinds); start += batch {
		var wg sync.WaitGroup
		errs := make([]error, min(batch, len(kinds)-start))
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = d.openSession(ctx, kinds[start+i])
			}(i)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("open session %d of %d as %s: %w", start+1, len(kinds), d.cfg.Role, connectCause(err))
		}
	}
	return nil
}

func (d *Drill) sessionsOf(kind string) []*heldConn {
	var out []*heldConn
	for _, s := range d.snapshotSessions() {
		if k, alive := s.state(); alive && k == kind {
			out = append(out, s)
		}
	}
	return out
}

// stage opens the transactions, the lock waits and the slow queries.
func (d *Drill) stage(ctx context.Context) error {
	tctx, cancel := d.poolWait(ctx)
	defer cancel()
	if err := d.openTransactions(tctx); err != nil {
		return d.poolStarved(ctx, tctx, err, "the transactions held open")
	}
	waiters := d.sessionsOf(kindWaiter)
	for _, s := range waiters {
		d.wg.Add(1)
		go d.waitOnLock(s)
	}
	if d.setup.pooled {
		// Through a pooler the reports start once the waiters have taken
		// what the pool had left: in session mode a report would otherwise
		// keep the last server connection for good and no waiter reach the
		// lock.
		if err := d.awaitLockWaits(ctx, len(waiters)); err != nil {
			return err
		}
	}
	for _, s := range d.sessionsOf(kindActive) {
		d.wg.Add(1)
		go d.runReports(s)
	}
	if !d.setup.pooled {
		if err := d.awaitLockWaits(ctx, len(waiters)); err != nil {
			return err
		}
	}
	d.printHeld()
	return nil
}

// openTransactions opens the transactions left idle, the first one holding
// the row lock the waiters queue on.
func (d *Drill) openTransactions(ctx context.Context) error {
	for i, s := range d.sessionsOf(kindIdleInTx) {
		stmt, note := openTxSQL, ""
		if i == 0 {
			stmt, note = lockSQL, fmt.Sprintf("holds the row lock on job %d", LockedJob)
		}
		if _, err := s.conn.Exec(ctx, "BEGIN"); err != nil {
			return fmt.Errorf("open a transaction on %s: %w", s, err)
		}
		if _, err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("run %q on %s: %w", stmt, s, err)
		}
		s.setKind(kindIdleInTx, note)
	}
	return nil
}

// waitOnLock runs an update that blocks behind the idle-in-transaction
// blocker. When the blocker is terminated, the request goes through and the
// worker becomes idle again, as a Django worker would.
func (d *Drill) waitOnLock(s *heldConn) {
	defer d.wg.Done()
	s.use.Lock()
	_, err := s.conn.Exec(d.ctx, lockSQL)
	s.use.Unlock()
	switch {
	case d.ctx.Err() != nil:
	case err == nil:
		s.setKind(kindIdle, "")
		d.out.printf("%s: its update of job %d went through; the lock holder is gone", s, LockedJob)
	default:
		d.gone(s, err)
	}
}

// runReports keeps a session active with slow analytics queries.
func (d *Drill) runReports(s *heldConn) {
	defer d.wg.Done()
	for d.ctx.Err() == nil {
		s.use.Lock()
		_, err := s.conn.Exec(d.ctx, reportSQL)
		s.use.Unlock()
		if err != nil {
			if d.ctx.Err() == nil {
				d.gone(s, err)
			}
			return
		}
	}
}

// gone reports a session that failed because the server closed it.
func (d *Drill) gone(s *heldConn, err error) {
	if s.markGone() {
		kind, _ := s.state()
		d.out.printf("%s (%s) was closed by the server (%s); it stays closed", s, kind, shortCause(err))
	}
}

func shortCause(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return "connection lost"
}

// awaitLockWaits waits until the server shows the waiters blocked, so the
// stage is set when Start returns.
//
// Through a pooler only as many waiters reach PostgreSQL as the pool has
// server connections left beside the transactions held open; the others
// wait in the pooler, which is the incident a pooler turns this into. The
// stage is then set once at least one waits on the lock and their number
// has not changed for pooledSettle (the reports start after it, so only
// the pooler's opening of server connections moves it).
func (d *Drill) awaitLockWaits(ctx context.Context, want int) error {
	deadline := time.Now().Add(10 * time.Second)
	if d.setup.pooled {
		deadline = time.Now().Add(30 * time.Second)
	}
	last, since := -1, time.Now()
	for {
		var n int
		d.setup.mu.Lock()
		err := d.setup.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, d.cfg.Database).Scan(&n)
		d.setup.mu.Unlock()
		if err != nil {
			return fmt.Errorf("check the lock waits: %w", err)
		}
		if n >= want {
			return nil
		}
		if n != last {
			last, since = n, time.Now()
		}
		if d.setup.pooled && n > 0 && time.Since(since) >= pooledSettle {
			d.out.printf("%d of %d waiters reached PostgreSQL; the pool has no server connection for the others, which wait in the pooler", n, want)
			return nil
		}
		if time.Now().After(deadline) {
			if d.setup.pooled {
				return fmt.Errorf("no session is waiting on the row lock after 30s: the pooler gave the waiters no server connection; its pool must hold more than the %d transactions held open", len(d.sessionsOf(kindIdleInTx)))
			}
			return fmt.Errorf("only %d of %d sessions are waiting on the row lock after 10s", n, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// printHeld lists the sessions by kind with their pids.
// pooledSettle: see awaitLockWaits.
const pooledSettle = 2 * time.Second

func (d *Drill) printHeld() {
	sessions := d.snapshotSessions()
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].pid < sessions[j].pid })
	by := map[string][]string{}
	for _, s := range sessions {
		s.meta.Lock()
		label := fmt.Sprint(s.pid)
		if s.note != "" {
			label += " (" + s.note + ")"
		}
		by[s.kind] = append(by[s.kind], label)
		s.meta.Unlock()
	}
	noun := "pid"
	if d.setup.pooled {
		noun = "client"
	}
	for _, kind := range []string{kindIdleInTx, kindWaiter, kindActive, kindIdle} {
		if pids := by[kind]; len(pids) > 0 {
			d.out.printf("%d %s (%s): %s %s", len(pids), kind, AppName, noun, strings.Join(pids, ", "))
		}
	}
}

// reuseLoop serves a request on a random idle worker now and then, so their
// backend_start stays old while state_change moves, as with
// CONN_MAX_AGE=None.
func (d *Drill) reuseLoop() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.ReuseEvery)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		idle := d.sessionsOf(kindIdle)
		if len(idle) == 0 {
			continue
		}
		s := idle[rand.IntN(len(idle))]
		if !s.use.TryLock() {
			continue
		}
		if d.setup.pooled {
			// The request may wait for the pool as long as it makes it.
			d.wg.Add(1)
			go d.request(s)
			continue
		}
		ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
		_, err := s.conn.Exec(ctx, requestSQL)
		cancel()
		s.use.Unlock()
		if err != nil && d.ctx.Err() == nil {
			d.gone(s, err)
		}
	}
}

// monitorLoop notices sessions terminated from outside (an idle session
// learns it only on its next use) and prints the status now and then.
func (d *Drill) monitorLoop() {
	defer d.wg.Done()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	status := time.NewTicker(d.cfg.StatusEvery)
	defer status.Stop()
	watching := true
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-status.C:
			d.out.printf("holding: %s", d.Status())
		case <-poll.C:
			// Through a pooler a terminated backend is the pooler's
			// business: a client learns it, if at all, on its next use.
			if watching && !d.setup.pooled {
				watching = d.checkTerminated()
			}
		}
	}
}

// checkTerminated marks sessions whose pid left pg_stat_activity. It
// returns false when the monitoring connection itself is lost.
func (d *Drill) checkTerminated() bool {
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
	defer cancel()
	d.setup.mu.Lock()
	rows, err := d.setup.admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND usename = $2`, d.cfg.Database, d.cfg.Role)
	var live map[uint32]bool
	if err == nil {
		live = map[uint32]bool{}
		var pid int32
		_, err = pgx.ForEachRow(rows, []any{&pid}, func() error {
			live[uint32(pid)] = true
			return nil
		})
	}
	d.setup.mu.Unlock()
	if err != nil {
		if d.ctx.Err() == nil {
			d.out.printf("lost the monitoring connection (%s): terminated sessions will be noticed on their next use", shortCause(err))
		}
		return d.ctx.Err() != nil
	}
	goneBy := map[string][]uint32{}
	for _, s := range d.snapshotSessions() {
		if live[s.pid] {
			continue
		}
		kind, _ := s.state()
		s.meta.Lock()
		note := s.note
		s.meta.Unlock()
		if s.markGone() {
			if note != "" {
				kind += " (" + note + ")"
			}
			goneBy[kind] = append(goneBy[kind], s.pid)
		}
	}
	for kind, pids := range goneBy {
		d.out.printf("terminated from outside, staying closed: %d %s, pid %s", len(pids), kind, joinPIDs(pids))
	}
	return true
}

func joinPIDs(pids []uint32) string {
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	parts := make([]string, 0, min(len(pids), 10))
	for i, p := range pids {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(pids)-10))
			break
		}
		parts = append(parts, fmt.Sprint(p))
	}
	return strings.Join(parts, ", ")
}

// exhaustSlots opens idle sessions until the server refuses the
// application's role, bounded by the usable slots.
func (d *Drill) exhaustSlots(ctx context.Context) {
	var res ExhaustResult
	// Bounded by the usable slots (plus a few, in case others leave) and by
	// the drill's hard cap, whatever max_connections says.
	limit := min(d.plan.Usable+5, maxSessions) - d.plan.Total()
	for i := 0; i < limit; i++ {
		_, err := d.openSession(ctx, kindIdle)
		if err == nil {
			res.Extra++
			continue
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			res.SQLState, res.Refusal = pe.Code, pe.Message
		} else {
			res.Refusal = err.Error()
		}
		break
	}
	d.mu.Lock()
	d.exhaust = res
	d.mu.Unlock()
	if res.SQLState == "53300" {
		d.out.printf("exhaust: took %d more slots; new connections as %s now fail: %s (SQLSTATE 53300)", res.Extra, d.cfg.Role, res.Refusal)
		return
	}
	d.out.printf("exhaust: took %d more slots; the server did not refuse with 53300 (%s)", res.Extra, res.Refusal)
}
