package collectors

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// lockPassQuery reads, in one pass over the lock table, every lock that
// some process waits for, with all its holders and waiters: pg_locks takes
// the lock manager's partition locks once, where pg_blocking_pids takes
// them once per waiter. The server keeps only rows that may
// share an object with a waiter (same relation, transaction, virtual
// transaction or object id; types without those are all kept); Go matches
// the objects exactly. waitstart (PostgreSQL 14 on) orders each queue.
const lockPassQuery = `WITH l AS MATERIALIZED (
  SELECT locktype, database, relation, page, tuple, virtualxid, transactionid, classid, objid, objsubid,
    pid, mode, granted, waitstart FROM pg_catalog.pg_locks),
w AS MATERIALIZED (SELECT relation, transactionid, virtualxid, objid FROM l WHERE NOT granted)
SELECT locktype, coalesce(database, 0), coalesce(relation, 0), coalesce(page, -1), coalesce(tuple, -1),
  coalesce(virtualxid, ''), coalesce(transactionid, '0'::xid), coalesce(classid, 0), coalesce(objid, 0),
  coalesce(objsubid, -1), coalesce(pid, 0), mode, granted, waitstart
FROM l
WHERE EXISTS (SELECT FROM w)
  AND (NOT granted
    OR relation IN (SELECT relation FROM w)
    OR transactionid IN (SELECT transactionid FROM w)
    OR virtualxid IN (SELECT virtualxid FROM w)
    OR objid IN (SELECT objid FROM w)
    OR locktype NOT IN ('relation', 'extend', 'page', 'tuple', 'transactionid', 'virtualxid', 'object', 'advisory'))`

// lockPassMinVersion is the first server whose pg_locks has waitstart.
const lockPassMinVersion = 140000

// lockObject is one lockable object as pg_locks names it; a column that
// is NULL for the object's type is zero (or -1) in every row of that type,
// so two rows name the same object exactly when their lockObjects are
// equal.
type lockObject struct {
	lockType           string
	database, relation uint32
	page, tuple        int32
	virtualXID         string
	transactionID      uint32
	classID, objID     uint32
	objSubID           int16
}

// lockMode is a heavyweight lock mode, 1 (AccessShareLock) to 8
// (AccessExclusiveLock), as PostgreSQL numbers them; 0 is none or a mode
// that never blocks (SIReadLock).
type lockMode uint8

var lockModes = map[string]lockMode{
	"AccessShareLock": 1, "RowShareLock": 2, "RowExclusiveLock": 3, "ShareUpdateExclusiveLock": 4,
	"ShareLock": 5, "ShareRowExclusiveLock": 6, "ExclusiveLock": 7, "AccessExclusiveLock": 8,
}

// lockConflicts is PostgreSQL's conflict table (lock.c LockConflicts,
// shared by table and advisory locks): the modes, as bits 1<<mode, that
// a request in each mode conflicts with.
var lockConflicts = [9]uint16{
	0,
	1 << 8,
	1<<7 | 1<<8,
	1<<5 | 1<<6 | 1<<7 | 1<<8,
	1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8,
	1<<3 | 1<<4 | 1<<6 | 1<<7 | 1<<8,
	1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8,
	1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8,
	1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8,
}

// lockInstance is one process's part in one lock: the modes it holds and
// the mode it waits for, since when.
type lockInstance struct {
	pid       int32
	held      uint16 // bits 1<<mode
	wants     lockMode
	unknown   bool // a waiting row in a mode this table does not know
	waitStart time.Time
}

// lockTable is one lock pass: every waited-for object's instances, and the
// object each waiting pid waits for.
type lockTable struct {
	objects map[lockObject][]lockInstance
	waitsOn map[int32]lockObject
	// at is where each process's instance is in its object's list: a
	// 500-long queue would otherwise be searched once per row.
	at map[instanceKey]int
}

type instanceKey struct {
	object lockObject
	pid    int32
}

func newLockTable() *lockTable {
	return &lockTable{objects: map[lockObject][]lockInstance{}, waitsOn: map[int32]lockObject{}, at: map[instanceKey]int{}}
}

func readLockTable(ctx context.Context, conn *pgx.Conn) (*lockTable, error) {
	rows, err := conn.Query(ctx, lockPassQuery)
	if err != nil {
		return nil, fmt.Errorf("read the lock table: %w", err)
	}
	defer rows.Close()
	t := newLockTable()
	var (
		o         lockObject
		pid       int32
		mode      string
		granted   bool
		waitStart pgtype.Timestamptz
	)
	dest := []any{&o.lockType, &o.database, &o.relation, &o.page, &o.tuple, &o.virtualXID, &o.transactionID,
		&o.classID, &o.objID, &o.objSubID, &pid, &mode, &granted, &waitStart}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read the lock table: %w", err)
		}
		t.add(o, pid, mode, granted, waitStart)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the lock table: %w", err)
	}
	return t, nil
}

// add records one pg_locks row: a process has one instance per object,
// with one row per mode it holds and one for the mode it waits for.
func (t *lockTable) add(o lockObject, pid int32, mode string, granted bool, waitStart pgtype.Timestamptz) {
	instances := t.objects[o]
	key := instanceKey{object: o, pid: pid}
	i, ok := t.at[key]
	if !ok {
		i = len(instances)
		t.at[key] = i
		instances = append(instances, lockInstance{pid: pid})
	}
	m, known := lockModes[mode]
	in := &instances[i]
	switch {
	case granted && known:
		in.held |= 1 << m
	case !granted:
		in.wants, in.unknown = m, !known
		if waitStart.Valid {
			in.waitStart = waitStart.Time
		}
		t.waitsOn[pid] = o
	}
	t.objects[o] = instances
}

// blockers is what pg_blocking_pids(pid) says, computed from the pass, and
// whether the pass can decide it. pg_blocking_pids names every other
// process that holds a mode conflicting with the waiter's request (hard)
// or waits ahead of it for one (soft), as its lock group's leader. The
// pass cannot decide when:
//   - the pid waits for nothing in the pass (its wait ended since the
//     activity scan, or it waits as a parallel query's leader);
//   - a process on the object is not a listed client backend (a parallel
//     worker reports its leader, a prepared transaction pid 0, and
//     autovacuum or other processes are not in the list to check against);
//   - a waiter on the object also holds a mode of it (PostgreSQL may queue
//     such a request ahead of earlier ones);
//   - the order of two conflicting waiters is unknown (waitstart not yet
//     set, or equal).
//
// A queue the deadlock detector reordered is the one case the pass cannot
// see; the wait graph's periodic full refresh corrects it.
func (t *lockTable) blockers(pid int32, listed map[int32]int32) ([]int32, bool) {
	o, ok := t.waitsOn[pid]
	if !ok {
		return nil, false
	}
	instances := t.objects[o]
	var self *lockInstance
	for i := range instances {
		in := &instances[i]
		if _, ok := listed[in.pid]; !ok || in.unknown || (in.wants != 0 && in.held != 0) {
			return nil, false
		}
		if in.pid == pid {
			self = in
		}
	}
	conflicts := lockConflicts[self.wants]
	out := []int32{}
	for i := range instances {
		in := &instances[i]
		if in.pid == pid {
			continue
		}
		if conflicts&in.held != 0 {
			out = append(out, in.pid)
			continue
		}
		if in.wants == 0 || conflicts&(1<<in.wants) == 0 {
			continue
		}
		if in.waitStart.IsZero() || self.waitStart.IsZero() || in.waitStart.Equal(self.waitStart) {
			return nil, false
		}
		if in.waitStart.Before(self.waitStart) {
			out = append(out, in.pid)
		}
	}
	return out, true
}
