package analysis

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Finding kinds; a Finding's ID is "<kind>/<subject>" so the same cause
// keeps its ID across snapshots.
const (
	FindingPersistentConnections = "persistent-connections"
	FindingRedisClientLeak       = "redis-client-leak"
	FindingIdleInTxBlocker       = "idle-in-transaction-blocker"
	FindingCheckThenInsertRace   = "check-then-insert-race"
	FindingConnectionsRefused    = "connections-refused"
)

// Heuristic thresholds. They are deliberately conservative: a finding must
// be backed by evidence an engineer can check in the same snapshot. A drill
// must run at least PersistentAfter before the persistent-connections
// finding can appear.
const (
	// StaleIdleAfter: a session idle longer than this has outlived any web
	// request.
	StaleIdleAfter = 10 * time.Second
	// PersistentAfter: CONN_MAX_AGE=60 would have closed a connection older
	// than this at the end of its next request.
	PersistentAfter = 60 * time.Second
	// A group needs this many stale idle sessions, and this share of the
	// usable slots, to be called a persistent-connection hog.
	minPersistentSessions = 5
	minPersistentShare    = 0.20
	// ReusedOldAfter: a connection whose last state change came when it was
	// older than this was used again past any plausible max age
	// (CONN_MAX_AGE=60 closes it at the end of the request that finds it
	// over age; the margin covers that request).
	ReusedOldAfter = PersistentAfter + StaleIdleAfter
	// DecideAfter: a group without reuse past ReusedOldAfter is called one
	// whose connections age out only once enough of its connections are
	// this old; younger, nothing can be told yet.
	DecideAfter = 2 * ReusedOldAfter
	// A group needs this many connections reused past ReusedOldAfter to be
	// called connections that never age out; fewer, and its old idle
	// connections are threads that got no request since.
	minReusedOld = 2
	// A Redis group needs this many clients to be a leak suspect.
	minLeakClients = 20
	// Share of a group's clients that were used once then left idle.
	minUsedOnceShare = 0.8
	// usedOnceSeconds: a client created per call runs its one command in
	// the second it connects (age − idle of 0–1 s in CLIENT LIST); a pooled
	// client that served a burst has been used for the burst's length.
	usedOnceSeconds = 1
	// Distinct connection ages needed to tell a leak from a pool warm-up
	// that opened its clients at once.
	minOpenTimes = 5
	// History window for "only grows".
	leakWindow = 10 * time.Minute
)

// findings derives root-cause findings from the latest snapshot and history.
func findings(in *input) []Finding {
	var out []Finding
	out = append(out, persistentConnections(in)...)
	out = append(out, idleInTransactionBlockers(in)...)
	out = append(out, connectionsRefused(in)...)
	out = append(out, redisLeaks(in)...)
	out = append(out, overCapacity(in)...)
	out = append(out, poolSaturated(in)...)
	out = append(out, externalRuleFindings(in)...)
	out = append(out, privilegeFindings(in)...)
	return out
}

// backendAge prefers the server-side age the collector reads (now() -
// backend_start on the server's clock) over the local clock.
func backendAge(s *collectors.Session, now time.Time) time.Duration {
	if s.BackendSeconds > 0 {
		return time.Duration(s.BackendSeconds * float64(time.Second))
	}
	return now.Sub(s.BackendStart)
}

type sessionGroupKey struct{ app, user, db string }

// reuseAge is how old the connection was at its last state change
// (state_change − backend_start): when its latest request began or ended.
func reuseAge(s *collectors.Session, now time.Time) time.Duration {
	return backendAge(s, now) - time.Duration(s.StateSeconds*float64(time.Second))
}

// reuse counts a group's connections used again past ReusedOldAfter: the
// evidence that separates CONN_MAX_AGE=None (13 of 37 in a real Django app)
// from CONN_MAX_AGE=60 (0, however long its idle threads wait).
type reuse struct {
	total, old int
	oldest     time.Duration
}

func persistentConnections(in *input) []Finding {
	pg := in.snap.Postgres
	if pg == nil || !sourceFresh(in.snap, collectors.SourcePostgres) {
		return nil
	}
	now := in.snap.TakenAt
	groups := map[sessionGroupKey][]*collectors.Session{}
	reused := map[sessionGroupKey]*reuse{}
	for i := range pg.Sessions {
		s := &pg.Sessions[i]
		if s.Hidden {
			continue
		}
		k := sessionGroupKey{s.ApplicationName, s.Usename, s.Datname}
		r := reused[k]
		if r == nil {
			r = &reuse{}
			reused[k] = r
		}
		r.total++
		if a := reuseAge(s, now); a > ReusedOldAfter {
			r.old++
			r.oldest = max(r.oldest, a)
		}
		if s.State != "idle" || s.StateSeconds < StaleIdleAfter.Seconds() || backendAge(s, now) < PersistentAfter {
			continue
		}
		groups[k] = append(groups[k], s)
	}
	usable := pg.Usable()
	var out []Finding
	keys := slices.Collect(maps.Keys(groups))
	slices.SortFunc(keys, func(a, b sessionGroupKey) int {
		return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.user, b.user), cmp.Compare(a.db, b.db))
	})
	for _, k := range keys {
		ss := groups[k]
		if len(ss) < minPersistentSessions || usable > 0 && float64(len(ss)) < minPersistentShare*float64(usable) ||
			!decidable(ss, *reused[k], now) {
			continue
		}
		out = append(out, persistentFinding(pg, refused(in.snap.Probe), now, k, ss, *reused[k]))
	}
	return out
}

func persistentFinding(pg *collectors.PGStats, atLimit bool, now time.Time, k sessionGroupKey, ss []*collectors.Session, r reuse) Finding {
	idle := make([]float64, len(ss))
	oldest := ss[0]
	clients := map[string]bool{}
	for i, s := range ss {
		idle[i] = s.StateSeconds
		if backendAge(s, now) > backendAge(oldest, now) {
			oldest = s
		}
		clients[s.ClientAddr] = true
	}
	sort.Float64s(idle)
	who := groupLabel(k)
	f := Finding{
		ID:    FindingPersistentConnections + "/" + k.app + "|" + k.user + "|" + k.db,
		About: who,
		Evidence: []string{
			fmt.Sprintf("%d of %d client connections are idle sessions of %s from %d client address(es): %s",
				len(ss), pg.Total, who, len(clients), strings.Join(limitList(sortedKeys(clients), 5), ", ")),
			fmt.Sprintf("idle for %s to %s (median %s), far longer than any request",
				secs(idle[0]), secs(idle[len(idle)-1]), secs(idle[len(idle)/2])),
			fmt.Sprintf("the oldest connection started %s ago (backend_start %s)",
				shortDuration(backendAge(oldest, now)), oldest.BackendStart.UTC().Format("2006-01-02 15:04:05 UTC")),
			fmt.Sprintf("they hold %s of the %d slots usable by ordinary roles", Percent(len(ss), pg.Usable()), pg.Usable()),
		},
	}
	if r.old < minReusedOld {
		// CONN_MAX_AGE works: Django closes an over-age connection only at
		// the end of its next request, so threads without a request keep
		// theirs. Not a leak; a sizing question at most.
		f.Severity = "info"
		f.Title = "Old idle connections on threads with no request since"
		f.Evidence = append(f.Evidence,
			fmt.Sprintf("downgraded to info: %d of the group's %d connections was used again after it was %s old (state_change − backend_start), so connections do age out (CONN_MAX_AGE set); these belong to threads that got no request since, and each closes at the end of its next request",
				r.old, r.total, shortDuration(ReusedOldAfter)))
		f.Fix = []string{headroomFix(pg, k, r.total)}
		return f
	}
	f.Severity = "warning"
	why := fmt.Sprintf("severity warning: %d of %d usable slots used and the probe is not refused", pg.Used(), pg.Usable())
	if atLimit || pg.Used() >= pg.Usable() {
		f.Severity = "critical"
		why = fmt.Sprintf("severity critical: %d of %d usable slots used", pg.Used(), pg.Usable())
		if atLimit {
			why += " and new connections are refused"
		}
	}
	f.Title = "Persistent connections that never age out"
	f.Evidence = append(f.Evidence,
		fmt.Sprintf("%d of the group's %d connections were used again after they were over %s old (state_change − backend_start up to %s): connections are reused, never closed (CONN_MAX_AGE=None)",
			r.old, r.total, shortDuration(ReusedOldAfter), shortDuration(r.oldest)),
		why)
	f.Fix = []string{
		"Django: set CONN_MAX_AGE=60 (not None) and CONN_HEALTH_CHECKS=True so connections age out and dead ones are replaced; or use Django 5.1 pooling (OPTIONS {\"pool\": True}, psycopg 3, CONN_MAX_AGE=0)",
		"cost of terminating or timing out: with CONN_HEALTH_CHECKS=False (Django's default) every terminated or timed-out idle connection fails the next request that uses it (a real Django 4.2 app failed 12 of 80 requests after 13 sessions were terminated, 17 after idle_session_timeout); deploy CONN_HEALTH_CHECKS=True first or accept those errors",
		fmt.Sprintf("guard first, then terminate: ALTER ROLE %s SET idle_session_timeout = '%s' (PostgreSQL 14+, see slotwatch guard) applies only to sessions started after it is set, so set it before terminating and the reconnected sessions time out", quoteIdent(k.user), guardIdleSession),
		fmt.Sprintf("relief now: terminate the sessions of %s idle for more than %s", orNone(k.app), shortDuration(groupIdleOver(ss))),
		headroomFix(pg, k, r.total),
	}
	f.Mitigations = persistentMitigations(pg, k, ss)
	return f
}

// decidable: either connections were reused past a max age (the evidence),
// or enough of them are old enough that such reuse would have shown by now.
// Connections barely older than ReusedOldAfter prove neither, so they give
// no finding yet rather than a claim either way.
func decidable(ss []*collectors.Session, r reuse, now time.Time) bool {
	if r.old >= minReusedOld {
		return true
	}
	old := 0
	for _, s := range ss {
		if backendAge(s, now) > DecideAfter {
			old++
		}
	}
	return old >= minPersistentSessions
}

// headroomFix states when terminating cannot help: threads that outnumber
// the usable slots reconnect at once.
func headroomFix(pg *collectors.PGStats, k sessionGroupKey, held int) string {
	return fmt.Sprintf("terminating gives no lasting headroom when the application's threads outnumber the usable slots: %s holds %d of the %d usable slots, and if its threads (workers × threads per worker) number %d or more they reconnect at once; the real fix is sizing threads or the pool below the usable slots, or a pooler (pgbouncer in transaction mode) in front",
		orNone(k.app), held, pg.Usable(), pg.Usable()-(pg.Used()-held))
}

// groupIdleOver picks N for "terminate the group's sessions idle longer
// than N": the longest round value that still catches half of them.
func groupIdleOver(ss []*collectors.Session) time.Duration {
	idle := make([]float64, len(ss))
	for i, s := range ss {
		idle[i] = s.StateSeconds
	}
	sort.Float64s(idle)
	median := time.Duration(idle[len(idle)/2] * float64(time.Second))
	for _, d := range []time.Duration{10 * time.Minute, 5 * time.Minute, time.Minute, 30 * time.Second} {
		if median > d {
			return d
		}
	}
	return StaleIdleAfter
}

func groupLabel(k sessionGroupKey) string {
	app := k.app
	if app == "" {
		app = "(no application_name)"
	}
	return fmt.Sprintf("%s / user %s / db %s", app, k.user, k.db)
}

// idleInTransactionBlockers names each idle-in-transaction session at the
// root of a lock-wait chain, with everything it blocks directly or through
// other waiters.
func idleInTransactionBlockers(in *input) []Finding {
	pg := in.snap.Postgres
	if pg == nil || !sourceFresh(in.snap, collectors.SourcePostgres) {
		return nil
	}
	// Only waiters and the sessions they name matter: index just those.
	involved := map[int32]bool{}
	for i := range pg.Sessions {
		if s := &pg.Sessions[i]; len(s.BlockedBy) > 0 {
			involved[s.PID] = true
			for _, b := range s.BlockedBy {
				involved[b] = true
			}
		}
	}
	if len(involved) == 0 {
		return nil
	}
	byPID := make(map[int32]*collectors.Session, len(involved))
	for i := range pg.Sessions {
		if involved[pg.Sessions[i].PID] {
			byPID[pg.Sessions[i].PID] = &pg.Sessions[i]
		}
	}
	blocked := blockedByRoot(pg.Sessions, byPID)
	var out []Finding
	for _, pid := range sortedKeys(blocked) {
		out = append(out, blockerFinding(byPID[pid], blocked[pid]))
	}
	return out
}

// blockedByRoot maps each idle-in-transaction root blocker to the waiters
// behind it, directly or through other waiters.
func blockedByRoot(sessions []collectors.Session, byPID map[int32]*collectors.Session) map[int32][]*collectors.Session {
	roots := newLockRoots(byPID)
	rootsOf := make(map[int32][]int32)
	for i := range sessions {
		if w := &sessions[i]; len(w.BlockedBy) > 0 {
			r, ok := roots.of(w.PID)
			if !ok {
				rootsOf = nil
				break
			}
			rootsOf[w.PID] = r
		}
	}
	blocked := map[int32][]*collectors.Session{}
	for i := range sessions {
		w := &sessions[i]
		if len(w.BlockedBy) == 0 {
			continue
		}
		r, ok := rootsOf[w.PID]
		if !ok {
			r = walkRoots(w.PID, byPID) // a cycle was met: walk each waiter
		}
		for _, root := range r {
			if b := byPID[root]; b != nil && strings.HasPrefix(b.State, "idle in transaction") {
				blocked[root] = append(blocked[root], w)
			}
		}
	}
	return blocked
}

func blockerFinding(b *collectors.Session, waiters []*collectors.Session) Finding {
	events := map[string]int{}
	pids := make([]string, 0, len(waiters))
	for _, w := range waiters {
		events[w.WaitEventType+"/"+w.WaitEvent]++
		pids = append(pids, fmt.Sprint(w.PID))
	}
	var ev []string
	for _, e := range sortedKeys(events) {
		ev = append(ev, fmt.Sprintf("%s ×%d", e, events[e]))
	}
	about := fmt.Sprintf("pid %d (%s, user %s, client %s)", b.PID, orNone(b.ApplicationName), b.Usename, orNone(b.ClientAddr))
	evidence := []string{
		fmt.Sprintf("pid %d is %s: idle for %s with its transaction open for %s", b.PID, b.State, secs(b.StateSeconds), secs(b.XactSeconds)),
		fmt.Sprintf("it blocks %d session(s) waiting on locks (%s): pids %s", len(waiters), strings.Join(ev, ", "), strings.Join(limitList(pids, 10), ", ")),
	}
	if b.Query != "" {
		evidence = append(evidence, "its last statement: "+truncate(b.Query, 160))
	}
	return Finding{
		Mitigations: blockerMitigations(b),
		ID:          fmt.Sprintf("%s/%d", FindingIdleInTxBlocker, b.PID),
		Severity:    "critical",
		Title:       "Idle-in-transaction session holding locks others wait on",
		About:       about,
		Evidence:    evidence,
		Fix: []string{
			fmt.Sprintf("now: terminate pid %d (cancel has no effect on an idle session); its transaction rolls back and the waiters proceed", b.PID),
			fmt.Sprintf("guard: ALTER ROLE %s SET idle_in_transaction_session_timeout = '%s' (PostgreSQL 9.6+, new sessions; see slotwatch guard)", quoteIdent(b.Usename), guardIdleInTx),
			"code: find the path that opens a transaction and then waits (on I/O, another service, the user) before committing; keep transactions short",
		},
	}
}

func connectionsRefused(in *input) []Finding {
	pr, pg := in.snap.Probe, in.snap.Postgres
	if !refused(pr) || !sourceFresh(in.snap, collectors.SourceProbe) {
		return nil
	}
	if !sourceFresh(in.snap, collectors.SourcePostgres) {
		pg = nil // no numbers from a failed source (contract C3)
	}
	evidence := []string{
		fmt.Sprintf("the connect probe was refused at %s with SQLSTATE 53300: %s", pr.SampledAt.UTC().Format("15:04:05 UTC"), pr.Error),
	}
	if pr.Reason != "" && pr.Reason != pr.Error {
		evidence = append(evidence, "the server's reason: "+pr.Reason)
	}
	if in.refusedStreak > 1 {
		evidence = append(evidence, fmt.Sprintf("%d probes in a row were refused", in.refusedStreak))
	}
	about, subject := "PostgreSQL", "postgres"
	fix := []string{
		"headroom now: free slots (terminate idle sessions that never age out) and keep usage below max_connections minus the reserved slots",
		"a pooler (pgbouncer in transaction mode) so application threads share a few server connections",
	}
	if pg != nil {
		about, subject = "PostgreSQL "+pg.Target, pg.Target
		evidence = append(evidence, fmt.Sprintf("%d of %d max_connections used by clients; %d superuser_reserved_connections and %d reserved_connections are kept back, so ordinary roles may use %d",
			pg.Total, pg.MaxConnections, pg.SuperuserReservedConnections, pg.ReservedConnections, pg.Usable()))
		if hidden := pg.Usable() - pg.Total; hidden > 0 {
			evidence = append(evidence, fmt.Sprintf("the other %d usable slots are held by connections not listed here: slotwatch's own, and other databases' when only one database is watched", hidden))
		}
		fix = append(fix, reservedFix(pg))
	}
	return []Finding{{
		ID:       FindingConnectionsRefused + "/" + subject,
		Severity: "critical",
		Title:    "New connections refused while slots are reserved",
		About:    about,
		Evidence: evidence,
		Fix:      fix,
	}}
}

func refused(pr *collectors.ProbeResult) bool {
	return pr != nil && !pr.OK && pr.SQLState == sqlstateTooManyConnections
}

func reservedFix(pg *collectors.PGStats) string {
	const advice = "reserved_connections = 5 and GRANT pg_use_reserved_connections TO the on-call/monitoring role, so slotwatch and operators can always connect"
	if pg.ServerVersionNum >= 160000 {
		return "PostgreSQL 16+: " + advice
	}
	if pg.ServerVersionNum > 0 {
		return fmt.Sprintf("this server is PostgreSQL %s: from 16 on, %s; until then only superusers get the reserved slots", pg.ServerVersion, advice)
	}
	return "PostgreSQL 16+: " + advice
}

// redisLeaks finds Redis client groups that look leaked: from history, a
// group that only grew while total_connections_received climbed; from one
// snapshot, many clients opened at different times, each used once and then
// left idle (redis.from_url per call).
func redisLeaks(in *input) []Finding {
	rs := in.snap.Redis
	if rs == nil || !sourceFresh(in.snap, collectors.SourceRedis) {
		return nil
	}
	growth := groupGrowth(in)
	usedOnce := usedOnceGroups(rs.Clients)
	var out []Finding
	for i := range rs.Groups {
		g := &rs.Groups[i]
		if g.Count < minLeakClients {
			continue
		}
		key := g.Key()
		var evidence []string
		if gr, ok := growth[key]; ok {
			evidence = append(evidence, gr...)
		}
		if u, ok := usedOnce[key]; ok {
			evidence = append(evidence, u)
		}
		if len(evidence) == 0 {
			continue
		}
		about := redisGroupLabel(g)
		evidence = append([]string{fmt.Sprintf("%d of %d connected clients come from %s", g.Count, rs.ConnectedClients, about)}, evidence...)
		if where := groupNodes(rs, key); where != "" {
			evidence = append(evidence, where)
		}
		out = append(out, Finding{
			Mitigations: leakMitigations(g),
			ID:          FindingRedisClientLeak + "/" + key,
			Severity:    leakSeverity(rs),
			Title:       "Redis client leak",
			About:       about,
			Evidence:    evidence,
			Fix: []string{
				"code: create one shared connection pool at module level and reuse it (redis.Redis(connection_pool=POOL) or Redis.from_pool) instead of redis.from_url per call",
				"guard: CONFIG SET timeout " + guardRedis + " so Redis closes clients idle for " + guardRedis + " seconds (not Pub/Sub or blocked clients)",
				fmt.Sprintf("relief now: kill the idle clients of %s (the leak reopens them until the code is fixed)", about),
			},
		})
	}
	return out
}

// leakSeverity is critical once connections were rejected or the fullest
// server (a cluster's fullest node) is at 80% of its maxclients.
func leakSeverity(rs *collectors.RedisStats) string {
	l := FullestRedis(rs)
	if rs.RejectedConnections > 0 || l.MaxClients > 0 && l.Clients*5 >= l.MaxClients*4 {
		return "critical"
	}
	return "warning"
}

// groupNodes says, for a Redis Cluster, which nodes hold the group's
// clients (most first) and how full the fullest node is: the one that
// refuses first, and where the clients are killed.
func groupNodes(rs *collectors.RedisStats, key string) string {
	if !rs.Cluster || len(rs.Nodes) == 0 {
		return ""
	}
	type onNode struct {
		addr string
		n    int
	}
	var on []onNode
	for i := range rs.Nodes {
		nd := &rs.Nodes[i]
		for j := range nd.Groups {
			if nd.Groups[j].Key() == key && nd.Groups[j].Count > 0 {
				on = append(on, onNode{nd.Addr, nd.Groups[j].Count})
			}
		}
	}
	if len(on) == 0 {
		return ""
	}
	slices.SortStableFunc(on, func(a, b onNode) int { return cmp.Compare(b.n, a.n) })
	parts := make([]string, len(on))
	for i, o := range on {
		parts[i] = fmt.Sprintf("%s %d", o.addr, o.n)
	}
	s := fmt.Sprintf("on the cluster's nodes: %s", strings.Join(limitList(parts, 5), ", "))
	if l := FullestRedis(rs); l.Node != "" && l.MaxClients > 0 {
		s += fmt.Sprintf("; the fullest node, %s, has %d of its %d maxclients connected (%s)", l.Node, l.Clients, l.MaxClients, PercentOf(float64(l.Clients), float64(l.MaxClients)))
	}
	return s
}

func redisGroupLabel(g *collectors.RedisGroup) string {
	s := "host " + g.Host
	if g.Name != "" {
		s += " name " + g.Name
	}
	if g.LibName != "" {
		s += " (" + g.LibName + ")"
	}
	return s
}

// groupGrowth returns evidence for groups whose client count never fell
// across the leak window while it grew, with total_connections_received
// climbing at least as much.
func groupGrowth(in *input) map[string][]string {
	w := in.redisWindow(in.snap.TakenAt.Add(-leakWindow))
	out := map[string][]string{}
	if w.len() < 3 {
		return out
	}
	first, last := w.at(0), w.at(w.len()-1)
	received := last.RedisReceived - first.RedisReceived
	for key, n := range last.RedisGroups {
		grew := n - first.RedisGroups[key]
		if grew < minLeakClients/2 || int64(grew) > received || !neverFalls(w, key) {
			continue
		}
		span := last.At.Sub(first.At)
		out[key] = []string{
			fmt.Sprintf("the group only grew: %d → %d clients over %s (%+.1f per minute), never falling",
				first.RedisGroups[key], n, shortDuration(span), float64(grew)/span.Minutes()),
			fmt.Sprintf("total_connections_received climbed by %d over the same %s: new connections keep being opened", received, shortDuration(span)),
		}
	}
	return out
}

func neverFalls(w window, key string) bool {
	prev := w.at(0).RedisGroups[key]
	for i := 1; i < w.len(); i++ {
		n := w.at(i).RedisGroups[key]
		if n < prev {
			return false
		}
		prev = n
	}
	return true
}

// usedOnceGroups returns evidence for groups whose clients were mostly used
// right after connecting and then never again, opened at many different
// times: the CLIENT LIST fingerprint of a client created per call.
func usedOnceGroups(clients []collectors.RedisClient) map[string]string {
	type tally struct {
		group          collectors.RedisGroup
		n, usedOnce    int
		ages           map[int64]bool // distinct ages, up to minOpenTimes
		oldest, newest int64
	}
	t := map[string]*tally{}
	var buf []byte
	for i := range clients {
		c := &clients[i]
		buf = groupKey(buf[:0], c)
		x := t[string(buf)]
		if x == nil {
			g := collectors.RedisGroup{Host: c.Host(), Name: collectors.FoldName(c.Name), LibName: c.LibName}
			x = &tally{group: g, ages: map[int64]bool{}, newest: c.AgeSeconds}
			t[g.Key()] = x
		}
		x.n++
		if c.AgeSeconds-c.IdleSeconds <= usedOnceSeconds {
			x.usedOnce++
		}
		if len(x.ages) < minOpenTimes {
			x.ages[c.AgeSeconds] = true
		}
		x.oldest, x.newest = max(x.oldest, c.AgeSeconds), min(x.newest, c.AgeSeconds)
	}
	out := map[string]string{}
	for k, x := range t {
		if x.n < minLeakClients || float64(x.usedOnce) < minUsedOnceShare*float64(x.n) || len(x.ages) < minOpenTimes {
			continue
		}
		out[k] = fmt.Sprintf("%d of its %d clients were used only when they connected (age − idle ≤ %ds) and have sat idle since; they were opened over the last %s and none was closed",
			x.usedOnce, x.n, usedOnceSeconds, shortDuration(time.Duration(x.oldest-x.newest)*time.Second))
	}
	return out
}

// groupKey appends the RedisGroup.Key of c's group to buf without
// allocating: host | name with digit runs folded to # | library.
func groupKey(buf []byte, c *collectors.RedisClient) []byte {
	buf = append(buf, c.Host()...)
	buf = append(buf, '|')
	digits := false
	for i := 0; i < len(c.Name); i++ {
		ch := c.Name[i]
		isDigit := ch >= '0' && ch <= '9'
		if isDigit && !digits {
			buf = append(buf, '#')
		} else if !isDigit {
			buf = append(buf, ch)
		}
		digits = isDigit
	}
	buf = append(buf, '|')
	return append(buf, c.LibName...)
}

func overCapacity(in *input) []Finding {
	j := in.snap.Jobs
	if j == nil || !sourceFresh(in.snap, collectors.SourceJobs) {
		return nil
	}
	var out []Finding
	for _, c := range j.OverCapacity {
		if c.Count <= c.Limit {
			continue
		}
		name := jobName(c)
		evidence := []string{
			fmt.Sprintf("%s has %d rows against a limit of %d (%d over)", name, c.Count, c.Limit, c.Count-c.Limit),
			"a count can only pass its limit when concurrent requests each checked the count before any of them inserted: a check-then-insert race without a row lock",
		}
		if at, ok := firstOverCapacity(in.history); ok {
			evidence = append(evidence, "rows over capacity first seen at "+at.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		out = append(out, Finding{
			ID:       FindingCheckThenInsertRace + "/" + c.ID,
			Severity: "warning",
			Title:    "Over-capacity rows from a check-then-insert race",
			About:    name,
			Evidence: evidence,
			Fix: []string{
				"lock the parent row before counting, in the same transaction: SELECT … FROM jobs WHERE id = %s FOR UPDATE (Django: transaction.atomic() + Job.objects.select_for_update().get(pk=job_id))",
				"or enforce the limit in the database: a counter column with CHECK (application_count <= max_applications) updated in the insert's transaction, or a trigger",
				fmt.Sprintf("decide what to do with the %d applications accepted over the limit", c.Count-c.Limit),
			},
		})
	}
	return out
}

func firstOverCapacity(h *collectors.History) (time.Time, bool) {
	for i := 0; i < h.Len(); i++ {
		if p := h.At(i); p.OverCapacity > 0 {
			return p.At, true
		}
	}
	return time.Time{}, false
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}

func limitList(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], fmt.Sprintf("… %d more", len(items)-n))
}

func secs(s float64) string { return shortDuration(time.Duration(s * float64(time.Second))) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// quoteIdent quotes a role name for the suggested SQL.
func quoteIdent(s string) string {
	if s == "" {
		return "<role>"
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
