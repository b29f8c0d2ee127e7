package demo

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// The simulated PostgreSQL server. Its numbers follow the incident's
// pg_stat_activity table for database talentflow: 16 active, 77 idle for
// 12+ minutes, 3 idle in transaction (96 client backends). Of the 16 active
// sessions, 12 wait on a row lock of job 12345 held by one of the
// idle-in-transaction sessions: waiting sessions are counted in active, as
// pg_stat_activity does, so the incident's 47 "waiting queries" cannot all
// be backends (77 idle and 3 idle in transaction leave 17 usable slots);
// those were requests queued in the application for a connection.
// slotwatch's own connection (the collector's, in database postgres, which
// actions borrow as the live console's do) fills the server to 97 of 97
// usable slots, so the connect probe is refused with SQLSTATE 53300.
const (
	pgMaxConnections    = 100
	pgSuperuserReserved = 3
	pgTarget            = "demo-postgres:5432/talentflow"
	pgVersion           = "15.5"
	pgVersionNum        = 150005
	appDB               = "talentflow"
	appUser             = "talentflow"
	appName             = "talentflow-web"
	refusedMessage      = "remaining connection slots are reserved for non-replication superuser connections"
	probeEvery          = 10 * time.Second
)

// Breakdown of the application's sessions at the start.
const (
	idleSessions    = 77
	idleInTxn       = 3
	waitingSessions = 12
	runningSessions = 4
)

type backend struct {
	pid         int32
	start       time.Time
	db, user    string
	app, client string
	superuser   bool
	state       string
	stateChange time.Time
	xactStart   time.Time // zero: no open transaction
	queryStart  time.Time
	waitType    string
	wait        string
	blockedBy   []int32
	query       string
	// cycle > 0 marks a session running short queries back to back: its
	// query restarts every cycle, picking the next of cycleQueries.
	cycle time.Duration
	// own marks slotwatch's connections: the server counts them, the
	// collector (watching database talentflow) does not show them.
	own bool
}

type pgServer struct {
	backends []*backend // by pid
	// roleSettings are ALTER ROLE … SET values (guards): role → name → value.
	roleSettings map[string]map[string]string
	// collectorPID is slotwatch's one backend: the collector's, which the
	// actions driver borrows, so it is also the driver's own pid.
	collectorPID int32
	// lastProbe is the latest probe attempt: its outcome was decided when
	// it ran, as a real probe's is, and repeats until the next attempt.
	lastProbe *collectors.ProbeResult
}

var djangoQueries = []string{
	`SELECT "candidates"."id", "candidates"."name", "candidates"."email", "candidates"."created_at" FROM "candidates" ORDER BY "candidates"."created_at" DESC LIMIT 21`,
	`SELECT "jobs"."id", "jobs"."company_id", "jobs"."title", "jobs"."status", "jobs"."max_applications", "jobs"."created_at" FROM "jobs" WHERE "jobs"."status" = 'open' ORDER BY "jobs"."created_at" DESC LIMIT 21`,
	`SELECT COUNT(*) AS "__count" FROM "applications" WHERE "applications"."job_id" = 12345`,
	`SELECT "django_session"."session_key", "django_session"."session_data", "django_session"."expire_date" FROM "django_session" WHERE ("django_session"."expire_date" > '2024-01-21T14:47:12.301145+00:00'::timestamptz AND "django_session"."session_key" = 'x3kq9v0c2m8h1r7tq4l6w5n0p2s8d1fz') LIMIT 21`,
	`SELECT "applications"."id", "applications"."job_id", "applications"."candidate_id", "applications"."status", "applications"."created_at" FROM "applications" WHERE "applications"."candidate_id" = 88172 ORDER BY "applications"."created_at" DESC`,
	`SELECT "companies"."id", "companies"."name" FROM "companies" WHERE "companies"."id" = 431 LIMIT 21`,
}

var cycleQueries = []string{
	`SELECT "candidates"."id", "candidates"."name", "candidates"."email" FROM "candidates" WHERE UPPER("candidates"."name"::text) LIKE UPPER('%son%') ORDER BY "candidates"."created_at" DESC LIMIT 50`,
	`SELECT COUNT(*) AS "__count" FROM "applications" INNER JOIN "jobs" ON ("applications"."job_id" = "jobs"."id") WHERE "jobs"."company_id" = 431`,
	`SELECT "jobs"."id", "jobs"."title", COUNT("applications"."id") AS "n" FROM "jobs" LEFT OUTER JOIN "applications" ON ("jobs"."id" = "applications"."job_id") GROUP BY "jobs"."id" ORDER BY "n" DESC LIMIT 20`,
}

const (
	blockerQuery = `UPDATE "jobs" SET "status" = 'open', "max_applications" = 50 WHERE "jobs"."id" = 12345`
	waiterQuery  = `UPDATE "jobs" SET "status" = 'full' WHERE "jobs"."id" = 12345`
	savepoint    = `SAVEPOINT "s139872341_x1"`
)

func newPGServer(rnd *source, now time.Time, pods []string) *pgServer {
	podStart := make([]time.Time, len(pods))
	for i := range pods {
		podStart[i] = now.Add(-rnd.duration(2*time.Hour, 6*time.Hour))
	}
	var bs []*backend
	web := func(i int) *backend {
		p := i % len(pods)
		return &backend{start: podStart[p].Add(rnd.duration(5*time.Second, 20*time.Minute)),
			db: appDB, user: appUser, app: appName, client: pods[p]}
	}
	for i := range idleSessions {
		b := web(i)
		b.state, b.stateChange = "idle", now.Add(-rnd.duration(12*time.Minute, 15*time.Minute))
		b.queryStart = b.stateChange.Add(-rnd.duration(2*time.Millisecond, 80*time.Millisecond))
		b.waitType, b.wait, b.query = "Client", "ClientRead", rnd.pick(djangoQueries)
		bs = append(bs, b)
	}
	var blocker *backend
	for i := range idleInTxn {
		b := web(idleSessions + i)
		b.state = "idle in transaction"
		b.xactStart = now.Add(-rnd.duration(2*time.Minute, 2*time.Minute+30*time.Second))
		b.queryStart = b.xactStart.Add(rnd.duration(time.Millisecond, 3*time.Second))
		b.stateChange = b.queryStart.Add(rnd.duration(time.Millisecond, 20*time.Millisecond))
		b.waitType, b.wait, b.query = "Client", "ClientRead", savepoint
		if i == 0 {
			b.query, blocker = blockerQuery, b
		}
		bs = append(bs, b)
	}
	var waiters []*backend
	for i := range waitingSessions {
		b := web(i + 3)
		b.state, b.query = "active", waiterQuery
		b.queryStart = blocker.queryStart.Add(rnd.duration(time.Second, 100*time.Second))
		b.xactStart, b.stateChange = b.queryStart, b.queryStart
		b.waitType, b.wait = "Lock", "tuple"
		bs, waiters = append(bs, b), append(waiters, b)
	}
	for i := range runningSessions {
		b := web(i + 7)
		b.state, b.cycle = "active", rnd.duration(300*time.Millisecond, 4*time.Second)
		b.queryStart = now.Add(-rnd.duration(0, b.cycle))
		bs = append(bs, b)
	}
	collector := &backend{start: now.Add(-rnd.duration(2*time.Minute, 5*time.Minute)), db: "postgres",
		user: "slotwatch", app: "slotwatch", client: "10.0.9.5", state: "idle", own: true}
	collector.stateChange, collector.queryStart, collector.waitType, collector.wait = now, now, "Client", "ClientRead"
	collector.query = "SELECT pid, backend_start FROM pg_stat_activity"
	bs = append(bs, collector)

	// Pids grow with backend_start, as the postmaster hands them out.
	slices.SortStableFunc(bs, func(a, b *backend) int { return a.start.Compare(b.start) })
	pid := int32(rnd.intn(18000, 24000))
	for _, b := range bs {
		pid += int32(rnd.intn(1, 37))
		b.pid = pid
	}
	// The oldest waiter waits for the blocker's transaction id, the others
	// queue for the row's tuple lock; all name the blocker in blocked_by, so
	// the chain leads to the idle-in-transaction session at a glance.
	slices.SortFunc(waiters, func(a, b *backend) int { return a.queryStart.Compare(b.queryStart) })
	for i, w := range waiters {
		w.blockedBy = []int32{blocker.pid}
		if i == 0 {
			w.wait = "transactionid"
		}
	}
	s := &pgServer{collectorPID: collector.pid, roleSettings: map[string]map[string]string{}}
	slices.SortFunc(bs, func(a, b *backend) int { return cmp.Compare(a.pid, b.pid) })
	s.backends = bs
	return s
}

func webPods(rnd *source) []string {
	seen := map[int]bool{}
	var pods []string
	for len(pods) < 4 {
		n := rnd.intn(11, 60)
		if !seen[n] {
			seen[n] = true
			pods = append(pods, fmt.Sprintf("10.0.3.%d", n))
		}
	}
	return pods
}

// used is every connection the server counts against max_connections.
func (p *pgServer) used() int { return len(p.backends) }

// usable is what ordinary roles may use.
func (p *pgServer) usable() int { return pgMaxConnections - pgSuperuserReserved }

// live renders a backend as pg_stat_activity shows it at now: a session
// running short queries shows the query of the moment.
func (b *backend) live(now time.Time) backend {
	v := *b
	if b.cycle > 0 {
		n := now.Sub(b.queryStart) / b.cycle
		v.queryStart = b.queryStart.Add(n * b.cycle)
		v.stateChange, v.xactStart = v.queryStart, v.queryStart
		v.query = cycleQueries[(int(n)+int(b.pid))%len(cycleQueries)]
	}
	return v
}

func (p *pgServer) stats(now time.Time, rnd *source) *collectors.PGStats {
	st := &collectors.PGStats{
		Sample:                       collectors.Sample{SampledAt: now, LastGoodAt: now},
		Target:                       pgTarget,
		ServerVersion:                pgVersion,
		ServerVersionNum:             pgVersionNum,
		MaxConnections:               pgMaxConnections,
		SuperuserReservedConnections: pgSuperuserReserved,
		ByState:                      map[string]int{},
		Sessions:                     make([]collectors.Session, 0, len(p.backends)),
	}
	for _, b := range p.backends {
		if b.own {
			// Like the real collector: slotwatch's own backends take slots
			// but are not listed as sessions.
			st.OwnConnections++
			continue
		}
		if b.db != appDB {
			continue
		}
		st.Sessions = append(st.Sessions, b.live(now).session(now))
	}
	collectors.Summarize(st) // the live collector's rule, so the panes count alike
	return st
}

func seconds(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return now.Sub(t).Seconds()
}

func (b backend) session(now time.Time) collectors.Session {
	blocked := append([]int32{}, b.blockedBy...)
	return collectors.Session{
		PID: b.pid, BackendStart: b.start, Datname: b.db, Usename: b.user,
		ApplicationName: b.app, ClientAddr: b.client, State: b.state,
		BackendSeconds: seconds(now, b.start), StateSeconds: seconds(now, b.stateChange),
		XactSeconds: seconds(now, b.xactStart), QuerySeconds: seconds(now, b.queryStart),
		WaitEventType: b.waitType, WaitEvent: b.wait, BlockedBy: blocked, Query: b.query,
	}
}

// probe is the connect probe's latest attempt: it runs every probeEvery of
// simulated time and is refused while every usable slot is taken.
func (p *pgServer) probe(now, start time.Time, rnd *source) *collectors.ProbeResult {
	n := now.Sub(start) / probeEvery
	at := start.Add(n * probeEvery)
	if p.lastProbe != nil && p.lastProbe.SampledAt.Equal(at) {
		r := *p.lastProbe
		return &r
	}
	jitter := float64(rnd.at(1000, uint64(n), 1)) / 1000
	r := collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 3.5 + 4*jitter}
	if p.used() >= p.usable() {
		r = collectors.ProbeResult{SampledAt: at, ConnectMS: 1.2 + jitter, SQLState: "53300", Error: refusedMessage}
	}
	p.lastProbe = &r
	out := r
	return &out
}

func (p *pgServer) find(pid int32) (int, *backend) {
	i, ok := slices.BinarySearchFunc(p.backends, pid, func(b *backend, pid int32) int { return cmp.Compare(b.pid, pid) })
	if !ok {
		return -1, nil
	}
	return i, p.backends[i]
}

// terminate ends a backend: its transaction rolls back, so sessions waiting
// only on its locks get them, finish their statement and go idle.
func (p *pgServer) terminate(pid int32, now time.Time) {
	i, _ := p.find(pid)
	if i < 0 {
		return
	}
	p.backends = slices.Delete(p.backends, i, i+1)
	for _, b := range p.backends {
		if j := slices.Index(b.blockedBy, pid); j >= 0 {
			b.blockedBy = slices.Delete(b.blockedBy, j, j+1)
			if len(b.blockedBy) == 0 {
				b.finish(now)
			}
		}
	}
}

// cancel stops the running statement of an active session; like
// pg_cancel_backend, it does nothing to a session waiting for its client
// (idle, idle in transaction). Its locks, if any, stay held.
func (p *pgServer) cancel(pid int32, now time.Time) bool {
	_, b := p.find(pid)
	if b == nil || b.state != "active" {
		return false
	}
	b.cycle = 0
	b.finish(now)
	return true
}

// finish ends the current statement: the Django request completes and the
// persistent connection goes back to idle.
func (b *backend) finish(now time.Time) {
	v := b.live(now)
	b.query, b.cycle = v.query, 0
	b.state, b.stateChange, b.xactStart = "idle", now, time.Time{}
	b.waitType, b.wait, b.blockedBy = "Client", "ClientRead", nil
}
