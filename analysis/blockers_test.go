package analysis

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/slotwatch/slotwatch/collectors"
)

// randomWaits builds n sessions where each blocks on up to three random
// others (self-edges left out); with cycles false every edge points to a
// lower pid, so there is no cycle.
func randomWaits(rnd *rand.Rand, n int, cycles bool) map[int32]*collectors.Session {
	byPID := make(map[int32]*collectors.Session, n)
	for p := int32(1); p <= int32(n); p++ {
		s := &collectors.Session{PID: p}
		if rnd.IntN(3) > 0 {
			for range rnd.IntN(3) + 1 {
				b := int32(rnd.IntN(n+2)) + 1 // n+1, n+2: sessions that are not listed
				if b == p || (!cycles && b > p && b <= int32(n)) {
					continue
				}
				s.BlockedBy = append(s.BlockedBy, b)
			}
		}
		byPID[p] = s
	}
	return byPID
}

func sortedCopy(p []int32) []int32 {
	c := slices.Clone(p)
	slices.Sort(c)
	return c
}

// The remembered walk gives every waiter exactly the roots the per-waiter
// walk gives, and says when a cycle makes it unusable.
func TestLockRootsAgreeWithTheWalk(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	sawCycle := false
	for round := range 400 {
		n := 2 + rnd.IntN(40)
		byPID := randomWaits(rnd, n, round%2 == 1)
		roots := newLockRoots(byPID)
		for p := int32(1); p <= int32(n); p++ {
			if len(byPID[p].BlockedBy) == 0 {
				continue
			}
			got, ok := roots.of(p)
			if !ok {
				if round%2 == 0 {
					t.Fatalf("round %d: a cycle reported in an acyclic graph", round)
				}
				sawCycle = true
				break
			}
			if want := walkRoots(p, byPID); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
				t.Fatalf("round %d pid %d: roots %v, the walk says %v", round, p, got, want)
			}
		}
	}
	if !sawCycle {
		t.Fatal("no random graph had a cycle: the fallback was never exercised")
	}
}

// With a cycle the finding still names the idle-in-transaction root that
// the waiters on the cycle lead to.
func TestBlockedByRootThroughACycle(t *testing.T) {
	sessions := []collectors.Session{
		{PID: 1, State: "idle in transaction"},
		{PID: 2, State: "active", BlockedBy: []int32{3}},
		{PID: 3, State: "active", BlockedBy: []int32{2, 1}},
		{PID: 4, State: "active", BlockedBy: []int32{2}},
	}
	byPID := map[int32]*collectors.Session{}
	for i := range sessions {
		byPID[sessions[i].PID] = &sessions[i]
	}
	got := blockedByRoot(sessions, byPID)
	var pids []int32
	for _, w := range got[1] {
		pids = append(pids, w.PID)
	}
	if len(got) != 1 || !slices.Equal(pids, []int32{2, 3, 4}) {
		t.Fatalf("blocked by root %v (waiters of pid 1: %v), want pid 1 blocking 2, 3 and 4", got, pids)
	}
}

// A lock queue as pg_blocking_pids reports it: the holder is idle in
// transaction and each of n waiters names the holder and every waiter
// ahead of it.
func lockQueue(n int) ([]collectors.Session, map[int32]*collectors.Session) {
	sessions := make([]collectors.Session, n+1)
	sessions[0] = collectors.Session{PID: 1, State: "idle in transaction"}
	for i := 1; i <= n; i++ {
		ahead := make([]int32, i)
		for j := range ahead {
			ahead[j] = int32(j + 1)
		}
		sessions[i] = collectors.Session{PID: int32(i + 1), State: "active", WaitEventType: "Lock", BlockedBy: ahead}
	}
	byPID := make(map[int32]*collectors.Session, len(sessions))
	for i := range sessions {
		byPID[sessions[i].PID] = &sessions[i]
	}
	return sessions, byPID
}

func TestBlockedByRootLockQueue(t *testing.T) {
	sessions, byPID := lockQueue(50)
	if got := blockedByRoot(sessions, byPID); len(got) != 1 || len(got[1]) != 50 {
		t.Fatalf("queue of 50 behind pid 1: %d roots, %d waiters behind pid 1", len(got), len(got[1]))
	}
}

// A 500-waiter queue at 5,000 backends.
func BenchmarkBlockedByRootQueue500(b *testing.B) {
	sessions, byPID := lockQueue(500)
	b.ReportAllocs()
	for b.Loop() {
		blockedByRoot(sessions, byPID)
	}
}

// The per-waiter walk on the same queue, for comparison.
func BenchmarkWalkRootsQueue500(b *testing.B) {
	sessions, byPID := lockQueue(500)
	b.ReportAllocs()
	for b.Loop() {
		for i := range sessions {
			if len(sessions[i].BlockedBy) > 0 {
				walkRoots(sessions[i].PID, byPID)
			}
		}
	}
}
