package collectors

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The pass leaves to pg_blocking_pids every case it cannot decide; these
// are built without a server because a server cannot be made to show them
// on demand (equal wait starts, a lock in an unknown mode).
func TestLockTableUndecidable(t *testing.T) {
	rel := lockObject{lockType: "relation", database: 5, relation: 16384, page: -1, tuple: -1, objSubID: -1}
	at := func(ms int) pgtype.Timestamptz {
		return pgtype.Timestamptz{Time: time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond), Valid: true}
	}
	none := pgtype.Timestamptz{}
	listed := map[int32]int32{1: 0, 2: 1, 3: 2, 4: 3}
	build := func(rows func(t *lockTable)) *lockTable {
		lt := newLockTable()
		rows(lt)
		return lt
	}
	cases := []struct {
		name    string
		table   *lockTable
		waiter  int32
		want    []int32
		decided bool
	}{
		{"hard and soft blockers", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
			t.add(rel, 3, "RowExclusiveLock", false, at(2))
		}), 3, []int32{2}, true},
		{"a holder in two modes is named once", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
			t.add(rel, 1, "RowExclusiveLock", true, none)
			t.add(rel, 2, "ShareLock", false, at(1))
		}), 2, []int32{1}, true},
		{"a compatible waiter ahead does not block", build(func(t *lockTable) {
			t.add(rel, 1, "AccessExclusiveLock", true, none)
			t.add(rel, 2, "AccessShareLock", false, at(1))
			t.add(rel, 3, "RowShareLock", false, at(2))
		}), 3, []int32{1}, true},
		{"equal wait starts", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
			t.add(rel, 3, "AccessExclusiveLock", false, at(1))
		}), 3, nil, false},
		{"wait start not yet set", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
			t.add(rel, 3, "AccessExclusiveLock", false, none)
		}), 3, nil, false},
		{"a process that is not a listed client backend", build(func(t *lockTable) {
			t.add(rel, 9, "ShareUpdateExclusiveLock", true, none) // autovacuum
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
		}), 2, nil, false},
		{"a prepared transaction (pid 0)", build(func(t *lockTable) {
			t.add(rel, 0, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
		}), 2, nil, false},
		{"an upgrade on the same object", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
		}), 2, nil, false},
		{"a wait in a mode the table does not know", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
			t.add(rel, 2, "SomeFutureLock", false, at(1))
		}), 2, nil, false},
		{"a waiter the pass does not show", build(func(t *lockTable) {
			t.add(rel, 1, "AccessShareLock", true, none)
		}), 2, nil, false},
		{"predicate locks never block", build(func(t *lockTable) {
			t.add(rel, 1, "SIReadLock", true, none)
			t.add(rel, 3, "AccessShareLock", true, none)
			t.add(rel, 2, "AccessExclusiveLock", false, at(1))
		}), 2, []int32{3}, true},
	}
	for _, c := range cases {
		got, decided := c.table.blockers(c.waiter, listed)
		if decided != c.decided || (decided && !slices.Equal(sortedPIDs(got), c.want)) {
			t.Errorf("%s: blockers %v, decided %v; want %v, %v", c.name, got, decided, c.want, c.decided)
		}
	}
}

// PostgreSQL's conflict table is symmetric, and each mode conflicts with
// AccessExclusiveLock.
func TestLockConflictsSymmetric(t *testing.T) {
	for a := lockMode(1); a <= 8; a++ {
		if lockConflicts[a]&(1<<8) == 0 {
			t.Errorf("mode %d does not conflict with AccessExclusiveLock", a)
		}
		for b := lockMode(1); b <= 8; b++ {
			if (lockConflicts[a]&(1<<b) != 0) != (lockConflicts[b]&(1<<a) != 0) {
				t.Errorf("modes %d and %d conflict one way only", a, b)
			}
		}
	}
}
