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
	waits   map[int32]cachedWait
	fullAt  time.Time
	asked   int // waiters asked about in the last tick (benchmarks, tests)
	reused  int
	refresh time.Duration
}

// cachedWait is one waiter's answer and what it depended on.
type cachedWait struct {
	self      sessionMark
	blockedBy []int32
	blockers  []sessionMark
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
	return &waitGraph{waits: map[int32]cachedWait{}, refresh: waitGraphRefresh}
}

// fill sets BlockedBy on every session waiting on a heavyweight lock,
// asking the server only about the waiters whose answer may have changed.
// stateChanges[i] is sessions[i]'s state_change (zero when NULL).
func (g *waitGraph) fill(ctx context.Context, conn *pgx.Conn, sessions []Session, stateChanges []time.Time, now time.Time) error {
	if !anyLockWait(sessions) {
		// Nothing waits: no marks to build on this hot path, nothing to keep.
		g.asked, g.reused, g.waits = 0, 0, map[int32]cachedWait{}
		return nil
	}
	marks := make(map[int32]sessionMark, len(sessions))
	for i := range sessions {
		marks[sessions[i].PID] = markOf(&sessions[i], stateChanges[i])
	}
	full := now.Sub(g.fullAt) >= g.refresh
	var ask []int32
	next := make(map[int32]cachedWait)
	for i := range sessions {
		s := &sessions[i]
		if s.WaitEventType != "Lock" {
			continue
		}
		c, ok := g.waits[s.PID]
		if !full && ok && c.still(marks[s.PID], marks) {
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
			c := cachedWait{self: marks[s.PID], blockedBy: blockedBy}
			for _, b := range blockedBy {
				c.blockers = append(c.blockers, marks[b]) // zero mark: not a listed client backend
			}
			next[s.PID] = c
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

// still reports whether neither the waiter nor any of its blockers changed.
func (c cachedWait) still(self sessionMark, marks map[int32]sessionMark) bool {
	if self != c.self {
		return false
	}
	for i, b := range c.blockedBy {
		if marks[b] != c.blockers[i] {
			return false
		}
	}
	return true
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
