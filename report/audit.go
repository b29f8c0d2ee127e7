package report

import (
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

// afterIntent is how long after an interrupted intent the recording is
// read to see what the action did: long enough for a batch to land.
const afterIntent = 5 * time.Second

// actionRow is one action for the timeline and the actions table: a result
// line, a refusal, or an intent whose result never came (interrupted).
type actionRow struct {
	e           actions.AuditEntry
	interrupted bool
	// first is when the action began (its intent), for time to mitigate.
	first time.Time
}

// auditView sorts the audit log into actions taken, previews that were not
// confirmed, and entries outside the recording.
type auditView struct {
	actions  []actionRow
	previews []actions.AuditEntry
	outside  int
}

func classifyAudit(entries []actions.AuditEntry, inRange func(time.Time) bool) auditView {
	results := map[string]bool{}
	intents := map[string]time.Time{}
	for _, e := range entries {
		switch e.Phase {
		case actions.PhaseResult:
			results[e.ActionID] = true
		case actions.PhaseIntent:
			intents[e.ActionID] = e.Time
		}
	}
	var v auditView
	for _, e := range entries {
		if !inRange(e.Time) {
			v.outside++
			continue
		}
		switch e.Phase {
		case actions.PhasePreviewed, actions.PhaseDeclined: // older CLIs wrote previews as declined
			v.previews = append(v.previews, e)
		case actions.PhaseIntent:
			if !results[e.ActionID] {
				v.actions = append(v.actions, actionRow{e: e, interrupted: true, first: e.Time})
			}
		default:
			first := e.Time
			if t, ok := intents[e.ActionID]; ok && e.ActionID != "" {
				first = t
			}
			v.actions = append(v.actions, actionRow{e: e, first: first})
		}
	}
	return v
}

// interruptedWatch follows the targets of an intent without a result
// through the recording: present just before it, and afterIntent later.
type interruptedWatch struct {
	e                  actions.AuditEntry
	redis              bool
	before, after      int
	beforeAt, afterAt  time.Time
	sawBefore, settled bool
}

// Watch tells the builder the audit log before the recording is replayed,
// so the report can say what an interrupted action did.
func (b *Builder) Watch(entries []actions.AuditEntry) {
	results := map[string]bool{}
	for _, e := range entries {
		if e.Phase == actions.PhaseResult {
			results[e.ActionID] = true
		}
	}
	for _, e := range entries {
		if e.Phase == actions.PhaseIntent && !results[e.ActionID] && len(e.Previewed) > 0 {
			b.watches = append(b.watches, &interruptedWatch{e: e, redis: e.Action == actions.ActionRedisKill})
		}
	}
}

func (b *Builder) observeWatches(s collectors.Snapshot) {
	for _, w := range b.watches {
		if w.settled {
			continue
		}
		n, ok := present(s, w.redis, w.e.Previewed)
		if !ok {
			continue
		}
		if s.TakenAt.Before(w.e.Time) {
			w.before, w.beforeAt, w.sawBefore = n, s.TakenAt, true
			continue
		}
		w.after, w.afterAt = n, s.TakenAt
		w.settled = !s.TakenAt.Before(w.e.Time.Add(afterIntent))
	}
}

// present counts how many of ids the snapshot lists (sessions by pid,
// Redis clients by id); false when that source has no fresh data.
func present(s collectors.Snapshot, redis bool, ids []int64) (int, bool) {
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	n := 0
	if redis {
		if s.Redis == nil || !fresh(s, collectors.SourceRedis, s.Redis.ClientsSampledAt) {
			return 0, false
		}
		for i := range s.Redis.Clients {
			if want[s.Redis.Clients[i].ID] {
				n++
			}
		}
		return n, true
	}
	if s.Postgres == nil || !fresh(s, collectors.SourcePostgres, s.Postgres.SampledAt) {
		return 0, false
	}
	for i := range s.Postgres.Sessions {
		if want[int64(s.Postgres.Sessions[i].PID)] {
			n++
		}
	}
	return n, true
}

// interruptedText says what an intent without a result may have done and
// what the recording shows afterwards.
func (b *Builder) interruptedText(e actions.AuditEntry) string {
	what := "sessions"
	if e.Action == actions.ActionRedisKill {
		what = "clients"
	}
	if e.Setting != "" {
		return "interrupted: no result was recorded; the setting may have been applied (check with slotwatch guard show)"
	}
	s := fmt.Sprintf("interrupted: no result was recorded; up to %d %s may have been signalled", len(e.Previewed), what)
	for _, w := range b.watches {
		if w.e.ActionID != e.ActionID || w.afterAt.IsZero() {
			continue
		}
		if w.sawBefore {
			s += fmt.Sprintf("; the recording shows %d of them at %s and %d at %s (%d gone)",
				w.before, clock(w.beforeAt), w.after, clock(w.afterAt), w.before-w.after)
		} else {
			s += fmt.Sprintf("; the recording shows %d of them still there at %s", w.after, clock(w.afterAt))
		}
	}
	return s
}
