package report

import (
	"math"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// seriesLog keeps, per snapshot, the few numbers the charts draw: a long
// recording costs a few dozen bytes a snapshot, not its sessions. A source
// without a fresh sample in a snapshot is NaN there: a gap in the chart.
type seriesLog struct {
	at []time.Time

	// PostgreSQL slots by state (waiting is counted apart from active),
	// the usable slots and max_connections.
	active, idle, idleTx, waiting, other []float64
	usable, maxConn                      []float64
	pgGroups                             groupLog

	redis, maxClients []float64
	redisGroups       groupLog

	bouncerSeen               bool
	bouncerWaiting, bouncerMx []float64

	jobsSeen           bool
	overRows, overSum  []float64
	refusals           []time.Time
	lastProbeAttemptAt time.Time
}

// groupLog is the count of every group in every snapshot, sparse: a group
// absent from a fresh sample had no connection then (0), and a snapshot
// without a fresh sample is a gap for every group.
type groupLog struct {
	keys   map[string]int
	labels []string
	counts [][]groupCount // per snapshot; nil where the source had no fresh sample
	fresh  []bool
}

type groupCount struct{ key, n int32 }

func (g *groupLog) add(ok bool, keys []string, labels []string, counts []int) {
	if g.keys == nil {
		g.keys = map[string]int{}
	}
	g.fresh = append(g.fresh, ok)
	if !ok {
		g.counts = append(g.counts, nil)
		return
	}
	row := make([]groupCount, 0, len(keys))
	for i, k := range keys {
		id, seen := g.keys[k]
		if !seen {
			id = len(g.labels)
			g.keys[k] = id
			g.labels = append(g.labels, labels[i])
		}
		row = append(row, groupCount{key: int32(id), n: int32(counts[i])})
	}
	g.counts = append(g.counts, row)
}

// series is one group's count per snapshot.
func (g *groupLog) series(id int) []float64 {
	out := make([]float64, len(g.counts))
	for i, row := range g.counts {
		if !g.fresh[i] {
			out[i] = math.NaN()
			continue
		}
		for _, c := range row {
			if int(c.key) == id {
				out[i] += float64(c.n)
			}
		}
	}
	return out
}

// top is the ids of the n groups with the highest peak, highest first.
func (g *groupLog) top(n int) []int {
	peak := make([]int32, len(g.labels))
	for _, row := range g.counts {
		for _, c := range row {
			peak[c.key] = max(peak[c.key], c.n)
		}
	}
	var ids []int
	for id := range peak {
		if peak[id] > 0 {
			ids = append(ids, id)
		}
	}
	// Highest peak first; the first seen breaks ties, so the order is stable.
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && peak[ids[j]] > peak[ids[j-1]]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids[:min(n, len(ids))]
}

var nan = math.NaN()

func (l *seriesLog) add(s collectors.Snapshot) {
	l.at = append(l.at, s.TakenAt)
	l.addPostgres(s)
	l.addRedis(s)
	l.addBouncer(s)
	l.addJobs(s)
}

func (l *seriesLog) addPostgres(s collectors.Snapshot) {
	pg := s.Postgres
	if pg == nil || !fresh(s, collectors.SourcePostgres, pg.SampledAt) {
		for _, v := range []*[]float64{&l.active, &l.idle, &l.idleTx, &l.waiting, &l.other, &l.usable, &l.maxConn} {
			*v = append(*v, nan)
		}
		l.pgGroups.add(false, nil, nil, nil)
		return
	}
	waiting := pg.Waiting
	active := max(0, pg.ByState["active"]-waiting) // lock waiters are active sessions: counted once
	idle := pg.ByState["idle"]
	idleTx := pg.ByState["idle in transaction"] + pg.ByState["idle in transaction (aborted)"]
	other := max(0, pg.Used()-active-waiting-idle-idleTx) // fastpath, hidden rows, slotwatch's own
	l.active = append(l.active, float64(active))
	l.idle = append(l.idle, float64(idle))
	l.idleTx = append(l.idleTx, float64(idleTx))
	l.waiting = append(l.waiting, float64(waiting))
	l.other = append(l.other, float64(other))
	l.usable = append(l.usable, float64(pg.Usable()))
	l.maxConn = append(l.maxConn, float64(pg.MaxConnections))
	groups := appGroups(pg.Groups)
	keys, labels, counts := make([]string, len(groups)), make([]string, len(groups)), make([]int, len(groups))
	for i, g := range groups {
		keys[i] = g.ApplicationName + "\x00" + g.Usename + "\x00" + g.ClientAddr + "\x00" + g.Datname
		labels[i] = sessionGroupLabel(g)
		counts[i] = g.Total
	}
	l.pgGroups.add(true, keys, labels, counts)
}

func sessionGroupLabel(g collectors.SessionGroup) string {
	app := g.ApplicationName
	if app == "" {
		app = "(no application_name)"
	}
	if g.Usename != "" {
		app += " · " + g.Usename
	}
	return app
}

func (l *seriesLog) addRedis(s collectors.Snapshot) {
	r := s.Redis
	if r == nil || !fresh(s, collectors.SourceRedis, r.SampledAt) {
		l.redis, l.maxClients = append(l.redis, nan), append(l.maxClients, nan)
		l.redisGroups.add(false, nil, nil, nil)
		return
	}
	l.redis = append(l.redis, float64(r.ConnectedClients))
	l.maxClients = append(l.maxClients, float64(r.MaxClients))
	groups := appRedisGroups(r.Groups)
	keys, labels, counts := make([]string, len(groups)), make([]string, len(groups)), make([]int, len(groups))
	for i := range groups {
		keys[i] = groups[i].Key()
		labels[i] = redisGroupLabel(groups[i])
		counts[i] = groups[i].Count
	}
	l.redisGroups.add(true, keys, labels, counts)
}

func redisGroupLabel(g collectors.RedisGroup) string {
	name := g.Name
	if name == "" {
		name = "(no client name)"
	}
	if g.Host != "" {
		name += " on " + g.Host
	}
	return name
}

func (l *seriesLog) addBouncer(s collectors.Snapshot) {
	b := s.PgBouncer
	if b == nil || !fresh(s, collectors.SourcePgBouncer, b.SampledAt) {
		l.bouncerWaiting, l.bouncerMx = append(l.bouncerWaiting, nan), append(l.bouncerMx, nan)
		l.bouncerSeen = l.bouncerSeen || b != nil || s.Errors[collectors.SourcePgBouncer] != ""
		return
	}
	l.bouncerSeen = true
	l.bouncerWaiting = append(l.bouncerWaiting, float64(b.Waiting()))
	l.bouncerMx = append(l.bouncerMx, b.MaxWaitSeconds())
}

func (l *seriesLog) addJobs(s collectors.Snapshot) {
	j := s.Jobs
	if j == nil || !fresh(s, collectors.SourceJobs, j.SampledAt) {
		l.overRows, l.overSum = append(l.overRows, nan), append(l.overSum, nan)
		l.jobsSeen = l.jobsSeen || j != nil || s.Errors[collectors.SourceJobs] != ""
		return
	}
	l.jobsSeen = true
	var excess int64
	for _, c := range j.OverCapacity {
		excess += c.Excess
	}
	l.overRows = append(l.overRows, float64(len(j.OverCapacity)))
	l.overSum = append(l.overSum, float64(excess))
}

// addRefusal marks one refused probe attempt (SQLSTATE 53300), once per
// attempt: the same attempt repeats in every snapshot until the next.
func (l *seriesLog) addRefusal(pr *collectors.ProbeResult) {
	if pr == nil || pr.OK || pr.SQLState != sqlstateRefused || !pr.SampledAt.After(l.lastProbeAttemptAt) {
		return
	}
	l.lastProbeAttemptAt = pr.SampledAt
	l.refusals = append(l.refusals, pr.SampledAt)
}
