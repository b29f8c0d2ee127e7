package metrics

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

const (
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
)

// activityStates are the states postgres_exporter zero-fills for
// pg_stat_activity_count, so a state that is absent now still has a series
// (rules and graphs see 0, not "no data").
var activityStates = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"}

// alertStates are zero-filled for slotwatch_alert_state.
var alertStates = []analysis.AlertState{analysis.Inactive, analysis.Pending, analysis.Firing, analysis.Resolved}

// findingKinds are zero-filled for slotwatch_findings.
var findingKinds = []string{
	analysis.FindingPersistentConnections, analysis.FindingIdleInTxBlocker, analysis.FindingConnectionsRefused,
	analysis.FindingRedisClientLeak, analysis.FindingCheckThenInsertRace, analysis.FindingExternalRuleInactive,
	analysis.FindingBlindByPrivilege,
}

// SQLSTATE of a successful connection, for the probe outcome label.
const sqlstateOK = "00000"

// collectFrame renders one frame. d are the single-target descriptions,
// ds the same with the server label: with several servers
// (Snapshot.Servers) every PostgreSQL and Redis server's series, the
// source states and the alerts carry server="<name>", primaries
// included; the probe, jobs, pgbouncer and findings series, which are
// not per server, keep their names and labels.
func collectFrame(d, ds *descs, topN int, f *analysis.Frame, emit emitFunc) {
	s := &f.Snapshot
	emit(d.snapshotTime, gauge, unix(s.TakenAt))
	multi := len(s.Servers) > 0
	if multi {
		collectServers(d, ds, topN, f, emit)
	} else {
		collectSources(d, s, emit)
	}
	if pg := s.Postgres; !multi && pg != nil && fresh(s, collectors.SourcePostgres) {
		collectPostgres(d, topN, pg, emit)
	}
	if pr := s.Probe; pr != nil && fresh(s, collectors.SourceProbe) {
		collectProbe(d, pr, emit)
	}
	collectRefused(d, ds, s, emit)
	if rs := s.Redis; !multi && rs != nil && fresh(s, collectors.SourceRedis) {
		collectRedis(d, topN, rs, f.Trend, emit)
	}
	if j := s.Jobs; j != nil && fresh(s, collectors.SourceJobs) {
		collectJobs(d, topN, j, emit)
	}
	if b := s.PgBouncer; b != nil && fresh(s, collectors.SourcePgBouncer) {
		collectPgBouncer(d, topN, b, emit)
	}
	if a := s.Alerting; a != nil && fresh(s, collectors.SourceAlerting) {
		n := map[string]int{collectors.ExternalFiring: 0, collectors.ExternalPending: 0}
		for i := range a.Alerts {
			n[a.Alerts[i].State]++
		}
		for _, st := range sortedKeys(n) {
			emit(d.externalAlerts, gauge, float64(n[st]), st)
		}
	}
	collectAnalysis(d, ds, f, emit)
}

// withServer appends the server's name to every sample's labels, for
// descriptions built with serverLabel last.
func withServer(emit emitFunc, server string) emitFunc {
	v := label(server)
	return func(d *prometheus.Desc, t prometheus.ValueType, val float64, labels ...string) {
		emit(d, t, val, append(labels[:len(labels):len(labels)], v)...)
	}
}

// collectServers exports every listed server under its name: up, last
// good and, when its latest sample succeeded, its series. Redis group
// growth needs history, which the frame carries for the primary only.
func collectServers(d, ds *descs, topN int, f *analysis.Frame, emit emitFunc) {
	s := &f.Snapshot
	var primaryPG string
	for i := range s.Servers {
		sv := &s.Servers[i]
		e := withServer(emit, sv.Name)
		var sample *collectors.Sample
		switch sv.Kind {
		case collectors.SourcePostgres:
			if sv.Primary {
				primaryPG = sv.Name
			}
			if sv.Postgres != nil {
				sample = &sv.Postgres.Sample
			}
			e(ds.pgUp, gauge, boolValue(sample != nil && sv.Error == ""))
			if sample != nil && sv.Error == "" {
				collectPostgres(ds, topN, sv.Postgres, e)
			}
		case collectors.SourceRedis:
			if sv.Redis != nil {
				sample = &sv.Redis.Sample
			}
			e(ds.redisUp, gauge, boolValue(sample != nil && sv.Error == ""))
			if sample != nil && sv.Error == "" {
				var trend []collectors.Point
				if sv.Primary {
					trend = f.Trend
				}
				collectRedis(ds, topN, sv.Redis, trend, e)
			}
		default:
			continue
		}
		x := source{name: sv.Kind, fresh: sv.Error == ""}
		if sample != nil {
			x.lastGood = lastGood(*sample)
		}
		emitSource(ds, x, e)
	}
	for _, x := range primarySources(d, s, emit) {
		server := primaryPG // the probe, jobs and pgbouncer belong to the primary PostgreSQL server
		if x.name == collectors.SourceAlerting {
			server = ""
		}
		emitSource(ds, x, withServer(emit, server))
	}
}

// fresh reports whether the source's latest sample succeeded. Stale data
// is not exported: Prometheus would alert on numbers that are not current
// (contract C3); pg_up / redis_up / slotwatch_source_up say it failed.
func fresh(s *collectors.Snapshot, source string) bool { return s.Source(source).Err == "" }

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// source is one source's state for slotwatch_source_up.
type source struct {
	name     string
	lastGood time.Time
	fresh    bool
}

func emitSource(d *descs, x source, emit emitFunc) {
	up := x.fresh && !x.lastGood.IsZero()
	emit(d.sourceUp, gauge, boolValue(up), x.name)
	if !x.lastGood.IsZero() {
		emit(d.sourceLastGood, gauge, unix(x.lastGood), x.name)
	}
}

// collectSources exports a single target's source states.
func collectSources(d *descs, s *collectors.Snapshot, emit emitFunc) {
	var sources []source
	if s.Postgres != nil || s.Errors[collectors.SourcePostgres] != "" {
		x := source{name: collectors.SourcePostgres, fresh: fresh(s, collectors.SourcePostgres)}
		if s.Postgres != nil {
			x.lastGood = lastGood(s.Postgres.Sample)
		}
		sources = append(sources, x)
		emit(d.pgUp, gauge, boolValue(s.Postgres != nil && x.fresh))
	}
	if s.Redis != nil || s.Errors[collectors.SourceRedis] != "" {
		x := source{name: collectors.SourceRedis, fresh: fresh(s, collectors.SourceRedis)}
		if s.Redis != nil {
			x.lastGood = lastGood(s.Redis.Sample)
		}
		sources = append(sources, x)
		emit(d.redisUp, gauge, boolValue(s.Redis != nil && x.fresh))
	}
	for _, x := range append(sources, primarySources(d, s, emit)...) {
		emitSource(d, x, emit)
	}
}

// primarySources are the sources that are not per server (pgbouncer, the
// probe, jobs, alerting); pgbouncer_up is exported here, unlabelled.
func primarySources(d *descs, s *collectors.Snapshot, emit emitFunc) []source {
	var sources []source
	if s.PgBouncer != nil || s.Errors[collectors.SourcePgBouncer] != "" {
		x := source{name: collectors.SourcePgBouncer, fresh: fresh(s, collectors.SourcePgBouncer)}
		if s.PgBouncer != nil {
			x.lastGood = lastGood(s.PgBouncer.Sample)
		}
		sources = append(sources, x)
		emit(d.bouncerUp, gauge, boolValue(s.PgBouncer != nil && x.fresh))
	}
	if s.Probe != nil || s.Errors[collectors.SourceProbe] != "" {
		x := source{name: collectors.SourceProbe, fresh: fresh(s, collectors.SourceProbe)}
		if s.Probe != nil {
			x.lastGood = s.Probe.SampledAt
		}
		sources = append(sources, x)
	}
	if s.Jobs != nil || s.Errors[collectors.SourceJobs] != "" {
		x := source{name: collectors.SourceJobs, fresh: fresh(s, collectors.SourceJobs)}
		if s.Jobs != nil {
			x.lastGood = lastGood(s.Jobs.Sample)
		}
		sources = append(sources, x)
	}
	if s.Alerting != nil || s.Errors[collectors.SourceAlerting] != "" {
		x := source{name: collectors.SourceAlerting, fresh: fresh(s, collectors.SourceAlerting)}
		if s.Alerting != nil {
			x.lastGood = lastGood(s.Alerting.Sample)
		}
		sources = append(sources, x)
	}
	return sources
}

func lastGood(s collectors.Sample) time.Time {
	if !s.LastGoodAt.IsZero() {
		return s.LastGoodAt
	}
	return s.SampledAt
}

func collectPostgres(d *descs, topN int, pg *collectors.PGStats, emit emitFunc) {
	emit(d.pgMaxConn, gauge, float64(pg.MaxConnections))
	emit(d.pgSuperuserReserved, gauge, float64(pg.SuperuserReservedConnections))
	if pg.ServerVersionNum >= 160000 {
		emit(d.pgReserved, gauge, float64(pg.ReservedConnections))
	}
	emit(d.slotsUsed, gauge, float64(pg.Used()))
	emit(d.slotsUsable, gauge, float64(pg.Usable()))
	emit(d.ownConns, gauge, float64(pg.OwnConnections))
	emit(d.sessions, gauge, float64(pg.Total))
	emit(d.lockWaiters, gauge, float64(pg.Waiting))
	for _, g := range BoundGroups(pg.Groups, topN) {
		labels := []string{label(g.Datname), label(g.Usename), label(g.ApplicationName)}
		for _, st := range statesOf(g.ByState) {
			emit(d.pgActivity, gauge, float64(g.ByState[st]), labels[0], label(st), labels[1], labels[2])
		}
		emit(d.groupSessions, gauge, float64(g.Total), labels...)
		emit(d.groupIdle, gauge, float64(g.ByState["idle"]), labels...)
		emit(d.groupOldestIdle, gauge, g.OldestIdleSeconds, labels...)
		emit(d.groupOldestBackend, gauge, g.OldestBackendSeconds, labels...)
	}
}

// statesOf is the zero-filled states followed by any other state present
// (hidden rows, states of newer servers), in a stable order.
func statesOf(byState map[string]int) []string {
	out := slices.Clone(activityStates)
	for _, st := range sortedKeys(byState) {
		if !slices.Contains(activityStates, st) && byState[st] > 0 {
			out = append(out, st)
		}
	}
	return out
}

// BoundGroups keeps the topN groups with the most sessions and folds the
// rest into one group per database with user and application "other";
// databases beyond the topN with the most folded sessions fold into
// database "other" too, so at most 2·topN groups are returned however many
// the server has.
func BoundGroups(groups []collectors.SessionGroup, topN int) []collectors.SessionGroup {
	sorted := withoutClient(groups)
	slices.SortFunc(sorted, func(a, b collectors.SessionGroup) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Datname, b.Datname),
			cmp.Compare(a.Usename, b.Usename), cmp.Compare(a.ApplicationName, b.ApplicationName))
	})
	if len(sorted) <= topN {
		return sorted
	}
	out := sorted[:topN:topN]
	perDB := map[string]*collectors.SessionGroup{}
	var dbs []string
	for i := range sorted[topN:] {
		g := &sorted[topN+i]
		o := perDB[g.Datname]
		if o == nil {
			o = &collectors.SessionGroup{Datname: g.Datname, Usename: Other, ApplicationName: Other, ByState: map[string]int{}}
			perDB[g.Datname] = o
			dbs = append(dbs, g.Datname)
		}
		foldGroup(o, g)
	}
	slices.SortFunc(dbs, func(a, b string) int {
		return cmp.Or(cmp.Compare(perDB[b].Total, perDB[a].Total), cmp.Compare(a, b))
	})
	var rest *collectors.SessionGroup
	for i, db := range dbs {
		if i < topN {
			out = append(out, *perDB[db])
			continue
		}
		if rest == nil {
			rest = &collectors.SessionGroup{Datname: Other, Usename: Other, ApplicationName: Other, ByState: map[string]int{}}
		}
		foldGroup(rest, perDB[db])
	}
	if rest != nil {
		out = append(out, *rest)
	}
	return out
}

// withoutClient merges groups that differ only by client address (older
// recordings group by client too): the series are per database, user and
// application.
func withoutClient(groups []collectors.SessionGroup) []collectors.SessionGroup {
	type key struct{ db, user, app string }
	index := make(map[key]int, len(groups))
	out := make([]collectors.SessionGroup, 0, len(groups))
	for i := range groups {
		g := &groups[i]
		k := key{g.Datname, g.Usename, g.ApplicationName}
		j, ok := index[k]
		if !ok {
			index[k] = len(out)
			out = append(out, collectors.SessionGroup{Datname: k.db, Usename: k.user, ApplicationName: k.app, ByState: map[string]int{}})
			j = len(out) - 1
		}
		foldGroup(&out[j], g)
	}
	return out
}

func foldGroup(into, g *collectors.SessionGroup) {
	into.Total += g.Total
	for st, n := range g.ByState {
		into.ByState[st] += n
	}
	into.OldestIdleSeconds = max(into.OldestIdleSeconds, g.OldestIdleSeconds)
	into.OldestBackendSeconds = max(into.OldestBackendSeconds, g.OldestBackendSeconds)
}

func collectProbe(d *descs, pr *collectors.ProbeResult, emit emitFunc) {
	state := pr.SQLState
	switch {
	case pr.OK:
		state = sqlstateOK
	case state == "":
		state = "unknown" // unreachable server, timeout: no SQLSTATE
	}
	emit(d.probeSuccess, gauge, boolValue(pr.OK))
	emit(d.probeTime, gauge, unix(pr.SampledAt))
	states := []string{sqlstateOK, collectors.SQLStateTooManyConnections}
	if !slices.Contains(states, state) {
		states = append(states, state)
	}
	for _, st := range states {
		emit(d.probeOutcome, gauge, boolValue(st == state), label(st))
	}
	emit(d.probeSeconds, gauge, pr.ConnectMS/1000, label(state))
}

func collectRedis(d *descs, topN int, rs *collectors.RedisStats, trend []collectors.Point, emit emitFunc) {
	emit(d.redisClients, gauge, float64(rs.ConnectedClients))
	emit(d.redisMaxClients, gauge, float64(rs.MaxClients))
	emit(d.redisBlocked, gauge, float64(rs.BlockedClients))
	emit(d.redisRejected, counter, float64(rs.RejectedConnections))
	emit(d.redisReceived, counter, float64(rs.TotalConnectionsReceived))
	if rs.Cluster {
		collectRedisNodes(d, rs.Nodes, emit)
	}
	for _, g := range BoundRedisGroups(rs.Groups, topN) {
		labels := []string{label(g.Host), label(g.Name), label(g.LibName)}
		emit(d.redisGroupClients, gauge, float64(g.Count), labels...)
		emit(d.redisGroupMaxIdle, gauge, float64(g.MaxIdleSeconds), labels...)
		if v, ok := collectors.RedisGroupGrowth(trend, g.keys...); ok {
			emit(d.redisGroupGrowth, gauge, v, labels...)
		}
	}
}

// collectRedisNodes exports each cluster node's clients and maxclients:
// the cluster's redis_connected_clients is the sum over nodes, but a node
// refuses at its own limit.
func collectRedisNodes(d *descs, nodes []collectors.RedisNodeStats, emit emitFunc) {
	for i := range nodes {
		n := &nodes[i]
		emit(d.redisNodeUp, gauge, boolValue(n.Error == ""), label(n.Addr))
		if n.Error != "" {
			continue // stale numbers are not exported
		}
		emit(d.redisNodeClients, gauge, float64(n.ConnectedClients), label(n.Addr))
		emit(d.redisNodeMaxClients, gauge, float64(n.MaxClients), label(n.Addr))
	}
}

// RedisGroup is a bounded Redis group with the history keys it sums.
type RedisGroup struct {
	collectors.RedisGroup
	keys []string
}

// BoundRedisGroups keeps the topN groups with the most clients and sums
// the rest into one group with host, name and library "other".
func BoundRedisGroups(groups []collectors.RedisGroup, topN int) []RedisGroup {
	sorted := slices.Clone(groups)
	slices.SortFunc(sorted, func(a, b collectors.RedisGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name), cmp.Compare(a.LibName, b.LibName))
	})
	out := make([]RedisGroup, 0, min(len(sorted), topN+1))
	var rest *RedisGroup
	for i := range sorted {
		g := &sorted[i]
		if i < topN {
			out = append(out, RedisGroup{RedisGroup: *g, keys: []string{g.Key()}})
			continue
		}
		if rest == nil {
			rest = &RedisGroup{RedisGroup: collectors.RedisGroup{Host: Other, Name: Other, LibName: Other}}
		}
		rest.Count += g.Count
		rest.MaxIdleSeconds = max(rest.MaxIdleSeconds, g.MaxIdleSeconds)
		rest.OldestAgeSeconds = max(rest.OldestAgeSeconds, g.OldestAgeSeconds)
		rest.keys = append(rest.keys, g.Key())
	}
	if rest != nil {
		out = append(out, *rest)
	}
	return out
}

func collectJobs(d *descs, topN int, j *collectors.JobsStats, emit emitFunc) {
	emit(d.jobsOver, gauge, float64(len(j.OverCapacity)))
	rows := slices.Clone(j.OverCapacity)
	slices.SortFunc(rows, func(a, b collectors.JobCapacity) int {
		return cmp.Or(cmp.Compare(b.Excess, a.Excess), cmp.Compare(a.ID, b.ID))
	})
	var rest int64
	for i, r := range rows {
		if i < topN {
			emit(d.jobExcess, gauge, float64(r.Excess), label(r.ID))
			continue
		}
		rest += r.Excess
	}
	if len(rows) > topN {
		emit(d.jobExcess, gauge, float64(rest), Other)
	}
}

func collectPgBouncer(d *descs, topN int, b *collectors.PgBouncerStats, emit emitFunc) {
	emit(d.bouncerMaxClientConn, gauge, float64(b.Settings.MaxClientConn))
	emit(d.bouncerPoolSize, gauge, float64(b.Settings.DefaultPoolSize))
	for _, p := range BoundPools(b.Pools, topN) {
		l := []string{label(p.Database), label(p.User)}
		emit(d.bouncerClActive, gauge, float64(p.ClActive), l...)
		emit(d.bouncerClWaiting, gauge, float64(p.ClWaiting), l...)
		emit(d.bouncerSvActive, gauge, float64(p.SvActive), l...)
		emit(d.bouncerSvIdle, gauge, float64(p.SvIdle), l...)
		emit(d.bouncerSvUsed, gauge, float64(p.SvUsed), l...)
		emit(d.bouncerMaxWait, gauge, p.MaxWaitSeconds, l...)
	}
}

// BoundPools keeps the topN pools with the most clients and sums the rest
// into one pool with database and user "other".
func BoundPools(pools []collectors.PgBouncerPool, topN int) []collectors.PgBouncerPool {
	sorted := slices.Clone(pools)
	slices.SortFunc(sorted, func(a, b collectors.PgBouncerPool) int {
		return cmp.Or(cmp.Compare(b.ClActive+b.ClWaiting, a.ClActive+a.ClWaiting),
			cmp.Compare(a.Database, b.Database), cmp.Compare(a.User, b.User))
	})
	if len(sorted) <= topN {
		return sorted
	}
	rest := collectors.PgBouncerPool{Database: Other, User: Other}
	for _, p := range sorted[topN:] {
		rest.ClActive += p.ClActive
		rest.ClWaiting += p.ClWaiting
		rest.SvActive += p.SvActive
		rest.SvIdle += p.SvIdle
		rest.SvUsed += p.SvUsed
		rest.MaxWaitSeconds = max(rest.MaxWaitSeconds, p.MaxWaitSeconds)
	}
	return append(sorted[:topN:topN], rest)
}

// collectAnalysis exports the alerts, with the server label when the
// snapshot lists several servers (the same rule runs on each), and the
// findings by kind, summed over servers.
func collectAnalysis(d, ds *descs, f *analysis.Frame, emit emitFunc) {
	ad, alertEmit := d, func(analysis.Alert) emitFunc { return emit }
	if len(f.Snapshot.Servers) > 0 {
		ad, alertEmit = ds, func(a analysis.Alert) emitFunc { return withServer(emit, a.Server) }
	}
	for _, a := range f.Alerts {
		e := alertEmit(a)
		for _, st := range alertStates {
			e(ad.alertState, gauge, boolValue(a.State == st), a.Name, string(st))
		}
		e(ad.alertValue, gauge, a.Value, a.Name)
	}
	kinds := make(map[string]int, len(findingKinds))
	for _, k := range findingKinds {
		kinds[k] = 0
	}
	for i := range f.Findings {
		if !f.Findings[i].Cleared.IsZero() {
			continue // shown for a while saying why it went; no longer a cause
		}
		kind, about, _ := strings.Cut(f.Findings[i].ID, "/")
		kinds[kind]++
		if kind == analysis.FindingExternalRuleInactive {
			emit(d.externalRuleInactiveAtRisk, gauge, 1, label(about))
		}
	}
	for _, k := range sortedKeys(kinds) {
		emit(d.findings, gauge, float64(kinds[k]), label(k))
	}
}

// label makes server-supplied text a valid label value: client_golang
// rejects invalid UTF-8, which would drop the sample.
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
