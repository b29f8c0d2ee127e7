package analysis

import "github.com/slotwatch/slotwatch/collectors"

// lockRoots finds the root blockers of lock waiters: the sessions at the end
// of blocked_by chains that are not blocked themselves. A lock queue of n
// waiters, each naming every session ahead of it (as pg_blocking_pids
// does), makes walking each waiter on its own cubic in n, which at 5,000
// backends was most of the process's CPU; lockRoots walks each session once
// and remembers its answer.
//
// A cycle (a deadlock the server breaks within deadlock_timeout) would make
// a remembered answer incomplete, so when one is met every waiter is walked
// on its own instead (walkRoots), which cuts cycles exactly.
type lockRoots struct {
	byPID  map[int32]*collectors.Session
	memo   map[int32][]int32
	onPath map[int32]bool
	cyclic bool
}

func newLockRoots(byPID map[int32]*collectors.Session) *lockRoots {
	return &lockRoots{byPID: byPID, memo: map[int32][]int32{}, onPath: map[int32]bool{}}
}

// of returns the root blockers of waiter pid, without pid itself; ok is
// false once a cycle was met (then use walkRoots for every waiter).
func (r *lockRoots) of(pid int32) (roots []int32, ok bool) {
	s := r.byPID[pid]
	if s == nil || len(s.BlockedBy) == 0 {
		return nil, !r.cyclic
	}
	roots = r.reach(pid)
	return roots, !r.cyclic
}

// reach is the set of roots reachable from p, p itself when p is a root.
func (r *lockRoots) reach(p int32) []int32 {
	if done, ok := r.memo[p]; ok {
		return done
	}
	s := r.byPID[p]
	if s == nil || len(s.BlockedBy) == 0 {
		r.memo[p] = []int32{p}
		return r.memo[p]
	}
	if r.onPath[p] {
		r.cyclic = true
		return nil
	}
	r.onPath[p] = true
	var out []int32
	seen := map[int32]bool{}
	for _, b := range s.BlockedBy {
		for _, root := range r.reach(b) {
			if !seen[root] {
				seen[root] = true
				out = append(out, root)
			}
		}
	}
	delete(r.onPath, p)
	r.memo[p] = out
	return out
}

// walkRoots follows blocked_by edges from pid to the sessions that are not
// themselves blocked, cutting cycles.
func walkRoots(pid int32, byPID map[int32]*collectors.Session) []int32 {
	seen := map[int32]bool{pid: true}
	queue := []int32{pid}
	var roots []int32
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		s := byPID[p]
		if s == nil || len(s.BlockedBy) == 0 {
			if p != pid {
				roots = append(roots, p)
			}
			continue
		}
		for _, b := range s.BlockedBy {
			if !seen[b] {
				seen[b] = true
				queue = append(queue, b)
			}
		}
	}
	return roots
}
