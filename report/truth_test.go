package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

func render(t *testing.T, snaps []collectors.Snapshot, audit []actions.AuditEntry) string {
	t.Helper()
	b := NewBuilder(nil)
	b.Watch(audit)
	for _, s := range snaps {
		b.Add(s)
	}
	var out bytes.Buffer
	if err := b.Write(&out, Options{Recording: "x.jsonl", Audit: audit, AuditSource: "audit.jsonl"}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func wantAll(t *testing.T, md string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(md, p) {
			t.Errorf("report lacks %q", p)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

// SIGKILL mid-terminate leaves an intent without a result: the report says
// the action was interrupted, how many sessions it may have hit, and what
// the recording shows afterwards.
func TestInterruptedIntentIsShown(t *testing.T) {
	snaps := fixtureTimeline()
	// pids 1000..1004 disappear from step 40 on, as if signalled.
	for i := 40; i < len(snaps); i++ {
		pg := snaps[i].Postgres
		kept := pg.Sessions[:0:0]
		for _, s := range pg.Sessions {
			if s.PID < 1000 || s.PID > 1004 {
				kept = append(kept, s)
			}
		}
		pg.Sessions = kept
	}
	at := t0.Add(399 * time.Second)
	audit := []actions.AuditEntry{{Time: at, ActionID: "k1", Phase: actions.PhaseIntent, Operator: actions.Operator{User: "oncall"},
		Server: "10.0.0.5:5432", Action: actions.ActionTerminate, Predicate: "app=talentflow-web", Confirmed: true,
		Previewed: []int64{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009}}}
	md := render(t, snaps, audit)
	wantAll(t, md, "interrupted: no result was recorded; up to 10 sessions may have been signalled",
		"the recording shows 10 of them at 15:38:30 and 5 at 15:38:50 (5 gone)", "| 15:38:39 | action | terminate by oncall |")
	if strings.Contains(md, "records no action during the recording") {
		t.Errorf("an interrupted action is reported as no action")
	}
}

// CLI previews are not actions, whether written as `previewed` or, by older
// CLIs, as `declined`; a guard line is not doubled.
func TestPreviewsAreNotActionsAndGuardsAreNotDoubled(t *testing.T) {
	op := actions.Operator{User: "oncall"}
	prev, next := "0", "5min"
	audit := []actions.AuditEntry{
		{Time: t0.Add(time.Minute), ActionID: "p1", Phase: actions.PhasePreviewed, Operator: op, Action: actions.ActionTerminate, Predicate: "app=web-*", Previewed: []int64{1, 2}},
		{Time: t0.Add(2 * time.Minute), ActionID: "p2", Phase: actions.PhaseDeclined, Operator: op, Action: actions.ActionRedisKill, Predicate: "name=x"},
		{Time: t0.Add(3 * time.Minute), ActionID: "g1", Phase: actions.PhaseIntent, Operator: op, Action: actions.ActionGuardSet,
			Predicate: "idle_session_timeout for talentflow", Setting: "idle_session_timeout", Role: "talentflow", Previous: &prev, New: &next, Confirmed: true},
		{Time: t0.Add(3*time.Minute + time.Second), ActionID: "g1", Phase: actions.PhaseResult, Operator: op, Action: actions.ActionGuardSet,
			Predicate: "idle_session_timeout for talentflow", Setting: "idle_session_timeout", Role: "talentflow", Previous: &prev, New: &next, Confirmed: true, Outcome: actions.Done},
	}
	md := render(t, fixtureTimeline()[:30], audit)
	wantAll(t, md, "Previewed, not confirmed (not actions):", "previewed 2 targets, not confirmed", "previewed 0 targets, not confirmed")
	actionsPart := md[strings.Index(md, "## Actions taken"):strings.Index(md, "Previewed, not confirmed")]
	if strings.Contains(actionsPart, "previewed") || strings.Count(actionsPart, "| guard-set |") != 1 {
		t.Errorf("actions table holds a preview or a doubled guard:\n%s", actionsPart)
	}
	if strings.Count(md, "idle_session_timeout for talentflow") != 2 { // timeline + actions table, once each
		t.Errorf("guard target printed %d times, want 2 (timeline, table)", strings.Count(md, "idle_session_timeout for talentflow"))
	}
}

// The timeline merges alerts and actions and states time to mitigate.
func TestMergedTimelineAndTimeToMitigate(t *testing.T) {
	snaps := fixtureTimeline()
	for i := range snaps {
		snaps[i].Jobs.OverCapacity = nil // so every alert resolves
	}
	md := render(t, snaps, fixtureAudit())
	wantAll(t, md, "Time to mitigate: the first alert (PostgresLockWaits) fired at 15:34:30; the first action came at 15:41:50, 7m20s later; every alert was resolved at 15:42:00, 7m30s after the first fired.")
	tl := md[strings.Index(md, "## Timeline"):strings.Index(md, "## Peak metrics")]
	iAlert, iAction := strings.Index(tl, "RedisClientsNearLimit: pending → firing"), strings.Index(tl, "| action | terminate by oncall")
	iResolved := strings.Index(tl, "PostgresLockWaits: firing → resolved")
	if iAlert < 0 || iAction < 0 || iResolved < 0 || !(iAlert < iAction && iAction < iResolved) {
		t.Errorf("timeline not merged in time order:\n%s", tl)
	}
}

// Each finding at its peak severity, ranked by it; the finding's later,
// downgraded form does not replace it.
func TestFindingsAtPeakSeverity(t *testing.T) {
	md := render(t, fixtureTimeline(), nil)
	i := strings.Index(md, "### 1. Persistent connections that never age out")
	if i < 0 || !strings.Contains(md[i:], "Peak severity critical at 15:37:00") {
		t.Errorf("persistent-connections not first at its peak severity:\n%s", md)
	}
}

// A server that is down is an outage, not a refusal; error snapshots are
// counted; a Redis restart's counter reset gives no negative increase.
func TestGapsOutagesAndCounterResets(t *testing.T) {
	snaps := fixtureTimeline()[:20]
	for i := 5; i < 8; i++ {
		s := &snaps[i]
		s.Errors = map[string]string{collectors.SourcePostgres: "connect: connection refused", collectors.SourceRedis: "dial tcp: connection refused"}
		s.Probe = &collectors.ProbeResult{SampledAt: s.TakenAt, Error: "dial tcp 10.0.0.5:5432: connect: connection refused"}
	}
	for i := 8; i < 20; i++ { // Redis restarted: counters start again from zero
		snaps[i].Redis.TotalConnectionsReceived -= 1000 + 24
		snaps[i].Redis.RejectedConnections = 0
	}
	md := render(t, snaps, nil)
	wantAll(t, md, "## Data gaps and outages", "| postgres | 15:32:50 | 15:33:10 | 3 | connect: connection refused |",
		"| probe | 15:32:50 | 15:33:10 | 3 | the connect probe failed: dial tcp 10.0.0.5:5432: connect: connection refused |",
		"postgres failed in 3 of 20 snapshots", "3 failed for another reason (see Data gaps)",
		"the counters reset 1 time (Redis restarted)")
	if strings.Contains(md, "SQLSTATE –") || strings.Contains(md, "+-") {
		t.Errorf("an outage read as a refusal, or a negative increase")
	}
}

// Server-supplied text cannot inject Markdown or terminal controls.
func TestHostileNamesAreEscaped(t *testing.T) {
	snaps := fixtureTimeline()[:40]
	for i := range snaps {
		for j := range snaps[i].Postgres.Groups {
			snaps[i].Postgres.Groups[j].ApplicationName = "[x](http://evil)\x1b]0;pwn\x07|"
		}
	}
	md := render(t, snaps, nil)
	if strings.ContainsAny(md, "\x1b\x07") || strings.Contains(md, "[x](http://evil)") {
		t.Errorf("hostile name reached the report raw")
	}
	wantAll(t, md, `\[x\](http://evil)?\]0;pwn?\|`)
}

// Top groups leave out slotwatch's own and the drill's control connections.
func TestTopGroupsLeaveOutOurOwn(t *testing.T) {
	snaps := fixtureTimeline()[:20]
	for i := range snaps {
		pg := snaps[i].Postgres
		pg.Groups = append(pg.Groups,
			collectors.SessionGroup{ApplicationName: "slotwatch-drill", Usename: "postgres", Total: 50},
			collectors.SessionGroup{ApplicationName: "slotwatch", Usename: "postgres", Total: 40})
		snaps[i].Redis.Groups = append(snaps[i].Redis.Groups, collectors.RedisGroup{Host: "127.0.0.1", Name: "slotwatch", Count: 500})
	}
	md := render(t, snaps, nil)
	top := md[strings.Index(md, "## Top groups"):strings.Index(md, "## Findings")]
	if strings.Contains(top, "slotwatch-drill |") || strings.Contains(top, "| slotwatch |") {
		t.Errorf("our own connections listed among the top groups:\n%s", top)
	}
}
