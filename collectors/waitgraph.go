package collectors

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitGraphRefresh bounds how long a cached blocked_by may be reused while
// nothing the collector can see has changed: a waiter that a newcomer was
// queued ahead of, or a holder that released a lock inside a running
// statement, changes no mark. From PostgreSQL 14 on this check is one lock
// pass (waitlocks.go), not one pg_blocking_pids call per waiter.
const waitGraphRefresh = 10 * time.Second

// waitGraphDeepRefresh is how often every waiter is asked of
// pg_blocking_pids itself even where the lock pass decides: the pass
// cannot see a queue the deadlock detector reordered.
const waitGraphDeepRefresh = 5 * time.Minute

// lockPassAbove is how many waiters to ask about beyond which one lock
// pass is cheaper than a pg_blocking_pids call for each.
const lockPassAbove = 8

// blockingQuery asks pg_blocking_pids for the given waiters only. Each call
// takes every lock-manager partition lock, which is what made one call per
// waiter per tick costly with many waiters.
const blockingQuery = `SELECT p, pg_blocking_pids(p) FROM unnest($1::int4[]) AS p`

// waitGraph keeps the last pg_blocking_pids answer of every waiting session
// and asks again only for a waiter whose wait changed, or one of whose
// blockers changed or left, and for all of them every waitGraphRefresh. On
// a server whose sessions do not change, blocked_by is exactly what
// pg_blocking_pids says.
type waitGraph struct {
	waits map[int32]cachedWait
	// blockerMarks is, for every pid some cached answer names, its mark
	// as of the last tick: a blocker that changed is found with one lookup
	// per blocker, not one per (waiter, blocker) pair — in a lock queue
	// waiter k names the k-1 ahead of it, so the pairs grow with the
	// square of the queue (125,000 for 500 waiters).
	blockerMarks map[int32]sessionMark
	fullAt       time.Time
	deepAt       time.Time
	refresh      time.Duration
	deepRefresh  time.Duration
	// lockPass is whether the server has pg_locks.waitstart (set by the
	// collector from the server version).
	lockPass bool
	// What the last tick did (benchmarks, tests): waiters asked of
	// pg_blocking_pids, answered by the lock pass, reused from the cache,
	// and lock passes read (0 or 1).
	asked, passed, reused, passes int
}

// cachedWait is one waiter's answer and its own mark when it was given.
type cachedWait struct {
	self      sessionMark
	blockedBy []int32
}

// sessionMark is what changes when a session's wait or state changes: a
// new statement, a new state or a new backend on the same pid.
type sessionMark struct {
	backendStart time.Time
	stateChange  time.Time
	state        string
	waitType     string
	waitEvent    string
}

func markOf(s *Session, stateChange time.Time) sessionMark {
	return sessionMark{backendStart: s.BackendStart, stateChange: stateChange, state: s.State,
		waitType: s.WaitEventType, waitEvent: s.WaitEvent}
}

func newWaitGraph() *waitGraph {
	return &waitGraph{waits: map[int32]cachedWait{}, blockerMarks: map[int32]sessionMark{},
		refresh: waitGraphRefresh, deepRefresh: waitGraphDeepRefresh}
}

// tickMarks gives a pid's mark in this tick's sessions; the zero mark for
// a pid that is not a listed client backend.
type tickMarks struct {
	sessions     []Session
	stateChanges []time.Time
	index        map[int32]int32
}

func (m *tickMarks) of(pid int32) sessionMark {
	i, ok := m.index[pid]
	if !ok {
		return sessionMark{}
	}
	return markOf(&m.sessions[i], m.stateChanges[i])
}

// fill sets BlockedBy on every session waiting on a heavyweight lock,
// asking the server only about the waiters whose answer may have changed:
// with one lock pass when there are many (or at a periodic check) and the
// server has one, otherwise, and for what the pass cannot decide, with
// pg_blocking_pids. stateChanges[i] is sessions[i]'s state_change (zero
// when NULL).
func (g *waitGraph) fill(ctx context.Context, conn *pgx.Conn, sessions []Session, stateChanges []time.Time, now time.Time) error {
	g.asked, g.passed, g.reused, g.passes = 0, 0, 0, 0
	if !anyLockWait(sessions) {
		// Nothing waits: no marks to build on this hot path, nothing to keep.
		g.waits, g.blockerMarks = map[int32]cachedWait{}, map[int32]sessionMark{}
		return nil
	}
	if g.waits == nil || g.blockerMarks == nil {
		g.waits, g.blockerMarks = map[int32]cachedWait{}, map[int32]sessionMark{}
	}
	marks := tickMarks{sessions: sessions, stateChanges: stateChanges, index: make(map[int32]int32, len(sessions))}
	for i := range sessions {
		marks.index[sessions[i].PID] = int32(i)
	}
	full := now.Sub(g.fullAt) >= g.refresh
	// The deep refresh counts from the first tick, which uses the pass.
	deep := full && (!g.lockPass || (!g.deepAt.IsZero() && now.Sub(g.deepAt) >= g.deepRefresh))
	if full {
		g.blockerMarks = map[int32]sessionMark{} // rebuilt from this tick's answers
	}
	next, need := g.reuse(sessions, stateChanges, &marks, full)
	g.reused = len(next)
	answers := make(map[int32][]int32, len(need))
	ask := need
	if g.lockPass && !deep && (full || len(need) > lockPassAbove) {
		table, err := readLockTable(ctx, conn)
		if err != nil {
			return err
		}
		g.passes = 1
		ask = ask[:0:0]
		for _, pid := range need {
			if b, ok := table.blockers(pid, marks.index); ok {
				answers[pid] = sortedPIDs(b)
				continue
			}
			ask = append(ask, pid)
		}
		g.passed = len(answers)
	}
	if len(ask) > 0 {
		asked, err := askBlocking(ctx, conn, ask)
		if err != nil {
			return err
		}
		for pid, b := range asked {
			answers[pid] = b
		}
		g.asked = len(ask)
	}
	g.record(sessions, stateChanges, &marks, answers, next)
	if full {
		g.fullAt = now
	}
	if deep || g.deepAt.IsZero() {
		g.deepAt = now
	}
	g.waits = next
	return nil
}

// reuse sets the cached answer on every waiter whose answer cannot have
// changed, and returns those answers and the pids of the other waiters.
func (g *waitGraph) reuse(sessions []Session, stateChanges []time.Time, marks *tickMarks, full bool) (map[int32]cachedWait, []int32) {
	changed := map[int32]bool{}
	for pid, m := range g.blockerMarks {
		if cur := marks.of(pid); cur != m {
			changed[pid] = true
			g.blockerMarks[pid] = cur
		}
	}
	var need []int32
	next := make(map[int32]cachedWait)
	for i := range sessions {
		s := &sessions[i]
		if s.WaitEventType != "Lock" {
			continue
		}
		c, ok := g.waits[s.PID]
		if !full && ok && c.self == markOf(s, stateChanges[i]) && !anyChanged(c.blockedBy, changed) {
			s.BlockedBy = c.blockedBy
			next[s.PID] = c
			continue
		}
		need = append(need, s.PID)
	}
	return next, need
}

// record sets this tick's answers on their waiters and remembers them,
// with the marks of the blockers they name.
func (g *waitGraph) record(sessions []Session, stateChanges []time.Time, marks *tickMarks, answers map[int32][]int32, next map[int32]cachedWait) {
	for i := range sessions {
		s := &sessions[i]
		blockedBy, ok := answers[s.PID]
		if !ok {
			continue
		}
		s.BlockedBy = blockedBy
		next[s.PID] = cachedWait{self: markOf(s, stateChanges[i]), blockedBy: blockedBy}
		for _, b := range blockedBy {
			if _, known := g.blockerMarks[b]; !known {
				g.blockerMarks[b] = marks.of(b) // zero mark: not a listed client backend
			}
		}
	}
}

func sortedPIDs(pids []int32) []int32 {
	slices.Sort(pids)
	return pids
}

func anyLockWait(sessions []Session) bool {
	for i := range sessions {
		if sessions[i].WaitEventType == "Lock" {
			return true
		}
	}
	return false
}

// anyChanged reports whether one of the blockers changed since the last
// tick; with nothing changed it costs nothing.
func anyChanged(blockedBy []int32, changed map[int32]bool) bool {
	if len(changed) == 0 {
		return false
	}
	for _, b := range blockedBy {
		if changed[b] {
			return true
		}
	}
	return false
}

func askBlocking(ctx context.Context, conn *pgx.Conn, pids []int32) (map[int32][]int32, error) {
	rows, err := conn.Query(ctx, blockingQuery, pids)
	if err != nil {
		return nil, fmt.Errorf("read the blockers of %d waiting sessions: %w", len(pids), err)
	}
	defer rows.Close()
	out := make(map[int32][]int32, len(pids))
	for rows.Next() {
		var pid int32
		var blockedBy []int32
		if err := rows.Scan(&pid, &blockedBy); err != nil {
			return nil, err
		}
		if blockedBy == nil {
			blockedBy = []int32{}
		}
		out[pid] = sortedPIDs(blockedBy)
	}
	return out, rows.Err()
}
