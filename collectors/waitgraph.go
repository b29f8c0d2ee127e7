package collectors

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitGraphRefresh bounds how long a cached blocked_by may be reused while
// nothing the collector can see has changed (a waiter queued ahead of
// another one without either changing state is the only case it misses).
const waitGraphRefresh = 10 * time.Second

// blockingQuery asks pg_blocking_pids for the given waiters only. Each call
// takes every lock-manager partition lock, which is what made one call per
// waiter per tick cost ~10 ms at 1,000 backends with 100 waiters.
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
	asked        int // waiters asked about in the last tick (benchmarks, tests)
	reused       int
	refresh      time.Duration
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
	return &waitGraph{waits: map[int32]cachedWait{}, blockerMarks: map[int32]sessionMark{}, refresh: waitGraphRefresh}
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
// asking the server only about the waiters whose answer may have changed.
// stateChanges[i] is sessions[i]'s state_change (zero when NULL).
func (g *waitGraph) fill(ctx context.Context, conn *pgx.Conn, sessions []Session, stateChanges []time.Time, now time.Time) error {
	if !anyLockWait(sessions) {
		// Nothing waits: no marks to build on this hot path, nothing to keep.
		g.asked, g.reused, g.waits, g.blockerMarks = 0, 0, map[int32]cachedWait{}, map[int32]sessionMark{}
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
	if full {
		g.blockerMarks = map[int32]sessionMark{} // rebuilt from this tick's answers
	}
	changed := map[int32]bool{}
	for pid, m := range g.blockerMarks {
		if cur := marks.of(pid); cur != m {
			changed[pid] = true
			g.blockerMarks[pid] = cur
		}
	}
	var ask []int32
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
		ask = append(ask, s.PID)
	}
	g.asked, g.reused = len(ask), len(next)
	if len(ask) > 0 {
		answers, err := askBlocking(ctx, conn, ask)
		if err != nil {
			return err
		}
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
	if full {
		g.fullAt = now
	}
	g.waits = next
	return nil
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
		slices.Sort(blockedBy)
		out[pid] = blockedBy
	}
	return out, rows.Err()
}
