package collectors

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The activity queries return every client backend in one round trip,
// from pg_stat_get_activity (what the pg_stat_activity view reads; names
// come from pgNames). Rows the role may not see have a NULL backend_type;
// those with a role and a database are kept as client backends (an
// autovacuum or parallel worker of another role can slip in for its few
// seconds; the launchers and writers have no database and stay out).
// pg_blocking_pids takes every lock-manager partition lock, so it is not
// called here: the wait graph (waitgraph.go) asks only about waiters whose
// answer may have changed, using state_change to tell. $1 is a database
// oid, or -1 for all databases. slotwatch's other connections are left out
// afterwards, so that they can be counted.
//
// The server does no per-row work beyond the function itself: timestamps
// come raw with the statement's now() (durations are computed in Go
// against that one instant, as now() - x was), client_addr comes as inet
// (formatted in Go), NULLs are read as empty in Go rather than coalesced,
// nothing is sorted.
//
// Every column but the wait event changes only with a backend's state (a
// statement starts or ends, a transaction opens or closes), which moves
// its state_change; the wait event changes while a statement runs. So
// changedActivityQuery sends the rest, as one record, only for backends
// whose state_change is not older than $2 (a NULL one: starting, or hidden
// from the role, is sent), and the collector fills the others in from the
// row it kept (knownRows). Sending the unchanged columns was most of what
// a listing cost above PostgreSQL's own floor; a record costs more than
// plain columns when most backends changed, so such a server is read with
// wholeActivityQuery (docs/benchmarks.md).
const (
	activityHead    = `pid, state_change, wait_event_type, wait_event, now()`
	activityColumns = `datid, usesysid, backend_start, application_name, client_addr, state, xact_start, query_start, query, backend_type IS NULL`
	activityFrom    = `
FROM pg_stat_get_activity(NULL)
WHERE (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL AND datid IS NOT NULL))
  AND pid <> pg_backend_pid()
  AND ($1::int8 < 0 OR datid::int8 = $1::int8)`
	wholeActivityQuery   = `SELECT ` + activityHead + `, ` + activityColumns + activityFrom
	changedActivityQuery = `SELECT ` + activityHead + `,
  CASE WHEN state_change < $2 THEN NULL ELSE ROW(` + activityColumns + `) END` + activityFrom
)

// knownRows keeps each backend's last whole row, so that a tick asks the
// server for whole rows only of the backends that changed since the last
// one. A partial row for a backend it does not know (the connection is
// new, or the row was dropped) makes the tick ask again for every row.
type knownRows struct {
	rows map[int32]knownRow
	// since is the last tick's server now() less changeSlack, or invalid:
	// read every row whole.
	since pgtype.Timestamptz
	// changed and listed count the last tick's backends known to have
	// changed since the tick before, and all of them; partial says the last
	// tick asked only for changed rows, of which wholeRows came whole.
	changed, listed, wholeRows int
	partial                    bool
	// gen and filter are the link connection and database filter the rows
	// were read with; either changing forgets them.
	gen    uint64
	filter int64
	// wholeAt is when every row was last read whole.
	wholeAt time.Time
	tick    uint64
}

type knownRow struct {
	row  activityRow
	tick uint64 // the last tick that listed the backend
}

// changeSlack widens "changed since the last tick" backwards: a backend
// takes its state_change timestamp a moment before it publishes the new
// state, so a change stamped just before the last tick's now() may not
// have been visible to it.
const changeSlack = time.Second

// wholeEvery bounds how long a kept row can be wrong if a backend's clock
// reading went backwards (a step of the system clock): every row is read
// whole again this often.
const wholeEvery = 30 * time.Second

// errUnknownBackend is a partial row for a backend with no kept row.
var errUnknownBackend = errors.New("a backend came back unchanged that was never read whole")

// forget makes the next tick read every row whole.
func (k *knownRows) forget() { k.since, k.rows = pgtype.Timestamptz{}, nil }

// changedOnly reports whether this tick, on connection gen with filter,
// asks only for the rows that changed: when the rows are kept for the same
// connection and filter, recently read whole, and at most a third of the
// backends changed last tick (beyond that the record costs more than it
// saves).
func (k *knownRows) changedOnly(gen uint64, filter int64, now time.Time) bool {
	if k.gen != gen || k.filter != filter || now.Sub(k.wholeAt) >= wholeEvery {
		k.gen, k.filter = gen, filter
		k.forget()
	}
	return k.since.Valid && k.rows != nil && 3*k.changed <= k.listed
}

// queryActivity reads the sessions (names not filled) with, for each, its
// database and role oid and its state_change (zero when NULL).
func (c *pgCollector) queryActivity(ctx context.Context, conn *pgx.Conn, dbFilter int64) (sessions []Session, datids, roleids []uint32, stateChanges []time.Time, err error) {
	var gen uint64
	if c.link != nil {
		gen = c.link.gen
	}
	changedOnly := c.known.changedOnly(gen, dbFilter, time.Now())
	sessions, datids, roleids, stateChanges, err = c.scanActivity(ctx, conn, dbFilter, changedOnly)
	if errors.Is(err, errUnknownBackend) {
		c.known.forget()
		sessions, datids, roleids, stateChanges, err = c.scanActivity(ctx, conn, dbFilter, false)
	}
	if err != nil {
		c.known.forget()
	}
	return sessions, datids, roleids, stateChanges, err
}

func (c *pgCollector) scanActivity(ctx context.Context, conn *pgx.Conn, dbFilter int64, changedOnly bool) (sessions []Session, datids, roleids []uint32, stateChanges []time.Time, err error) {
	k := &c.known
	var r activityRow
	head, fields := r.dest(&c.text, &c.addrs)
	query, args, dest := wholeActivityQuery, []any{dbFilter}, slices.Concat(head, fields)
	if changedOnly {
		query, args = changedActivityQuery, []any{dbFilter, k.since}
		dest = slices.Concat(head, []any{activityRecord{row: &r, fields: fields}})
	}
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer rows.Close()
	if k.rows == nil {
		k.rows = make(map[int32]knownRow, max(c.lastRows, 64))
	}
	if !changedOnly {
		k.wholeAt = time.Now()
	}
	k.tick++
	c.text.startTick(c.lastRows)
	sessions = make([]Session, 0, max(c.lastRows, 64))
	datids, roleids, stateChanges = make([]uint32, 0, cap(sessions)), make([]uint32, 0, cap(sessions)), make([]time.Time, 0, cap(sessions))
	var now pgtype.Timestamptz
	changed, wholeRows := 0, 0
	for rows.Next() {
		r.unchanged = false
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, nil, nil, err
		}
		if r.unchanged {
			kept, ok := k.rows[r.pid]
			if !ok {
				return nil, nil, nil, nil, errUnknownBackend
			}
			r.keepFrom(&kept.row)
		} else {
			wholeRows++
			if r.changedSince(k.since) {
				changed++
			}
		}
		k.rows[r.pid] = knownRow{row: r, tick: k.tick}
		now = r.now
		sessions = append(sessions, r.session())
		datids, roleids, stateChanges = append(datids, r.datid), append(roleids, r.roleid), append(stateChanges, r.stateChange.Time)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, nil, err
	}
	for pid, kept := range k.rows {
		if kept.tick != k.tick {
			delete(k.rows, pid) // gone, or its pid taken by a backend that comes whole
		}
	}
	k.since, k.changed, k.listed, k.wholeRows, k.partial = pgtype.Timestamptz{}, changed, len(sessions), wholeRows, changedOnly
	if now.Valid && now.InfinityModifier == pgtype.Finite {
		k.since = pgtype.Timestamptz{Time: now.Time.Add(-changeSlack), Valid: true}
	}
	c.lastRows = len(sessions)
	return sessions, datids, roleids, stateChanges, nil
}

// activityRow is one row of an activity query as scanned; the scan
// targets are reused for every row, so that a row costs no allocation
// beyond the strings not seen before.
type activityRow struct {
	pid                   int32
	start, stateChange    pgtype.Timestamptz
	xactStart, queryStart pgtype.Timestamptz
	now                   pgtype.Timestamptz
	datid, roleid         uint32
	app, addr, state      string
	waitType, wait, query string
	hidden                bool
	// unchanged is a row of changedActivityQuery without its record.
	unchanged bool
}

// dest is the scan targets of activityHead and of activityColumns.
func (r *activityRow) dest(text *interner, addrs *addrNames) (head, columns []any) {
	return []any{&r.pid, &r.stateChange, text.into(&r.waitType), text.into(&r.wait), &r.now},
		[]any{nullableOID{&r.datid}, nullableOID{&r.roleid}, &r.start, text.into(&r.app), addrs.into(&r.addr),
			text.into(&r.state), &r.xactStart, &r.queryStart, text.into(&r.query), &r.hidden}
}

// changedSince reports whether the backend is known to have changed at or
// after since: never when since is unknown (the first read, which the
// next tick then tries to follow with changed rows only), always when the
// row has no state_change.
func (r *activityRow) changedSince(since pgtype.Timestamptz) bool {
	return since.Valid && (!r.stateChange.Valid || !r.stateChange.Time.Before(since.Time))
}

// keepFrom fills the columns an unchanged row did not send from the row
// kept for its backend.
func (r *activityRow) keepFrom(kept *activityRow) {
	r.datid, r.roleid, r.start, r.hidden = kept.datid, kept.roleid, kept.start, kept.hidden
	r.app, r.addr, r.state = kept.app, kept.addr, kept.state
	r.xactStart, r.queryStart, r.query = kept.xactStart, kept.queryStart, kept.query
}

// activityRecord scans changedActivityQuery's record of activityColumns
// into the row's own targets; a NULL record marks the row unchanged.
type activityRecord struct {
	row    *activityRow
	fields []any
}

func (a activityRecord) ScanNull() error {
	a.row.unchanged = true
	return nil
}

func (a activityRecord) ScanIndex(i int) any {
	if i < len(a.fields) {
		return a.fields[i]
	}
	return nil
}

// session is the row as a Session; its durations are measured to the
// statement's now(), on the server's clock, as now() - x was. A NULL
// timestamp is a zero duration.
func (r *activityRow) session() Session {
	s := Session{PID: r.pid, ApplicationName: r.app, ClientAddr: r.addr, State: r.state, WaitEventType: r.waitType,
		WaitEvent: r.wait, Query: r.query, Hidden: r.hidden,
		BlockedBy: []int32{}, // filled for lock waiters by the wait graph
	}
	if r.start.Valid {
		s.BackendStart = r.start.Time
	}
	s.BackendSeconds = r.secondsSince(r.start)
	s.StateSeconds = r.secondsSince(r.stateChange)
	s.XactSeconds = r.secondsSince(r.xactStart)
	s.QuerySeconds = r.secondsSince(r.queryStart)
	return s
}

func (r *activityRow) secondsSince(t pgtype.Timestamptz) float64 {
	if !t.Valid || !r.now.Valid {
		return 0
	}
	return r.now.Time.Sub(t.Time).Seconds()
}

// nullableOID scans an oid column, NULL as 0.
type nullableOID struct{ dst *uint32 }

func (o nullableOID) ScanUint32(v pgtype.Uint32) error {
	*o.dst = v.Uint32
	return nil
}

// interner hands out one string per distinct text column value: states,
// wait events, application names and most idle sessions' last statements
// repeat across rows and ticks, and each copy was an allocation per row
// per tick. It is forgotten when it grows well past the rows of a tick
// (texts that no longer occur).
type interner struct{ m map[string]string }

func (in *interner) startTick(rows int) {
	if in.m == nil || len(in.m) > 8*rows+1024 {
		in.m = make(map[string]string, 2*rows+64)
	}
}

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	in.m[s] = s
	return s
}

func (in *interner) into(dst *string) internedText { return internedText{dst: dst, in: in} }

// internedText scans a text column (pgx hands it the driver's bytes) into
// *dst through the interner.
type internedText struct {
	dst *string
	in  *interner
}

func (t internedText) ScanBytes(b []byte) error {
	*t.dst = t.in.get(b)
	return nil
}

// addrNames formats client addresses as host() did ("" for NULL: a Unix
// socket), once per distinct address.
type addrNames struct{ m map[netip.Addr]string }

func (a *addrNames) into(dst *string) addrText { return addrText{dst: dst, names: a} }

func (a *addrNames) name(addr netip.Addr) string {
	if s, ok := a.m[addr]; ok {
		return s
	}
	if a.m == nil || len(a.m) > 4096 {
		a.m = map[netip.Addr]string{}
	}
	s := addr.String()
	a.m[addr] = s
	return s
}

// addrText scans an inet column into *dst as text without the mask.
type addrText struct {
	dst   *string
	names *addrNames
}

func (t addrText) ScanNetipPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		*t.dst = ""
		return nil
	}
	*t.dst = t.names.name(p.Addr())
	return nil
}
