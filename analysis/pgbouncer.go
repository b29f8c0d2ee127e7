package analysis

import (
	"fmt"
	"sort"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// RulePgbouncerWaiting fires when clients queue in pgbouncer for a server
// connection: the incident's "waiting queries" and "connection wait time".
const RulePgbouncerWaiting = "PgbouncerClientsWaiting"

// FindingPoolSaturated is the finding for a pgbouncer pool whose every
// server connection is busy while clients wait.
const FindingPoolSaturated = "pool-saturated"

func pgbouncerWaitingRule() Rule {
	return Rule{
		Name:          RulePgbouncerWaiting,
		Description:   "clients waiting in pgbouncer for a server connection longer than the threshold",
		Severity:      "critical",
		Threshold:     1,
		ThresholdUnit: "seconds the oldest client has waited",
		For:           30 * time.Second,
		Source:        collectors.SourcePgBouncer,
		eval:          evalPgbouncerWaiting,
	}
}

func evalPgbouncerWaiting(r *Rule, in *input) outcome {
	b := in.snap.PgBouncer
	if b == nil {
		return outcome{}
	}
	waiting, longest := b.Waiting(), b.MaxWaitSeconds()
	return outcome{
		known:  true,
		active: waiting > 0 && longest >= r.Threshold,
		value:  longest,
		summary: fmt.Sprintf("%d clients waiting in pgbouncer for a server connection, the oldest for %.1f s (threshold %g s)",
			waiting, longest, r.Threshold),
	}
}

// poolSaturated finds pools where clients wait while every server
// connection the pool may open is busy: more server connections, or
// shorter transactions, are the only relief.
func poolSaturated(in *input) []Finding {
	b := in.snap.PgBouncer
	if b == nil || !sourceFresh(in.snap, collectors.SourcePgBouncer) {
		return nil
	}
	var out []Finding
	for _, p := range b.Pools {
		if p.ClWaiting == 0 || p.SvIdle > 0 || p.SvActive == 0 {
			continue
		}
		out = append(out, poolFinding(in, b, p))
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Evidence) > len(out[j].Evidence) })
	return out
}

func poolFinding(in *input, b *collectors.PgBouncerStats, p collectors.PgBouncerPool) Finding {
	size := b.Settings.DefaultPoolSize
	ev := []string{
		fmt.Sprintf("%d clients wait for a server connection; the oldest has waited %.1f s", p.ClWaiting, p.MaxWaitSeconds),
		fmt.Sprintf("all %d server connections are active (default_pool_size %d, pool_mode %s), none idle", p.SvActive, size, p.PoolMode),
	}
	for _, st := range b.Stats {
		if st.Database == p.Database && st.AvgWaitSeconds > 0 {
			ev = append(ev, fmt.Sprintf("clients waited %.1f s on average over pgbouncer's stats period", st.AvgWaitSeconds))
		}
	}
	idleTx := idleInTransactionViaPool(in.snap, b, p)
	if len(idleTx) > 0 {
		ev = append(ev, fmt.Sprintf("%d of the pool's server connections are idle in transaction (pids %s): the application holds them without working", len(idleTx), pidList(idleTx)))
	}
	fix := []string{}
	if pg := in.snap.Postgres; pg != nil {
		fix = append(fix, fmt.Sprintf("Raise default_pool_size only within PostgreSQL's headroom: every pool's servers together must stay under the %d usable slots (%d in use now).", pg.Usable(), pg.Used()))
	} else {
		fix = append(fix, "Raise default_pool_size only within PostgreSQL's headroom: every pool's servers together must stay under max_connections minus the reserved slots.")
	}
	if p.PoolMode == "session" {
		fix = append(fix, "pool_mode = transaction returns a server connection after each transaction instead of holding it for the whole client session (check the app does not rely on session state).")
	}
	fix = append(fix, "Find the requests that hold a connection idle in transaction and end their transactions (Django: ATOMIC_REQUESTS and long views); idle_in_transaction_session_timeout bounds them.")
	f := Finding{
		ID: FindingPoolSaturated, Severity: "critical",
		Title: "pgbouncer pool saturated: clients queue for server connections",
		About: fmt.Sprintf("pool %s/%s", p.Database, p.User), Evidence: ev, Fix: fix,
	}
	if len(idleTx) > 0 {
		f.Mitigations = append(f.Mitigations, Mitigation{Kind: TerminateSessions,
			Label: fmt.Sprintf("terminate the pool's %d idle-in-transaction server connections", len(idleTx)),
			PIDs:  idleTx, States: []string{"idle in transaction"}})
	}
	return f
}

// idleInTransactionViaPool lists the PostgreSQL backends behind the pool's
// server connections that sit idle in a transaction.
func idleInTransactionViaPool(s collectors.Snapshot, b *collectors.PgBouncerStats, p collectors.PgBouncerPool) []int32 {
	if s.Postgres == nil {
		return nil
	}
	via := map[int32]bool{}
	for _, sv := range b.Servers {
		if sv.Database == p.Database && sv.User == p.User && sv.RemotePID > 0 {
			via[sv.RemotePID] = true
		}
	}
	var pids []int32
	for _, sess := range s.Postgres.Sessions {
		if via[sess.PID] && sess.State == "idle in transaction" {
			pids = append(pids, sess.PID)
		}
	}
	return pids
}

func pidList(pids []int32) string {
	out := ""
	for i, p := range pids {
		if i == 5 {
			return out + fmt.Sprintf(" and %d more", len(pids)-5)
		}
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprint(p)
	}
	return out
}
