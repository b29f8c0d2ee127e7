package report

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/recording"
)

var update = flag.Bool("update", false, "rewrite the golden report")

var t0 = time.Date(2024, 1, 21, 15, 32, 0, 0, time.UTC)

const mitigatedAt = 60 // step of the mitigation; one step is 10 s

// fixtureTimeline is a 16-minute incident on a server with 40 slots, one
// snapshot every 10 s: idle sessions pile up, an idle-in-transaction
// session blocks three others, the probe is refused, Redis clients leak and
// a job goes over capacity; at 10:00 the operator terminates the idle
// sessions and the blocker and kills the leaked clients.
func fixtureTimeline() []collectors.Snapshot {
	var out []collectors.Snapshot
	for i := 0; i < 96; i++ {
		out = append(out, fixtureSnapshot(i))
	}
	return out
}

func fixtureSnapshot(i int) collectors.Snapshot {
	at := t0.Add(time.Duration(i) * 10 * time.Second)
	sample := collectors.Sample{SampledAt: at, LastGoodAt: at}
	before := i < mitigatedAt
	idle := min(18+i/2, 27)
	blocking := before && i >= 12
	if !before {
		idle = 5
	}
	var sessions []collectors.Session
	add := func(pid int32, s collectors.Session) {
		s.PID = pid
		s.Datname, s.Usename, s.ApplicationName = "talentflow", "talentflow", "talentflow-web"
		s.ClientAddr = fmt.Sprintf("10.0.1.%d", 10+len(sessions)%3)
		s.BackendStart = t0.Add(-time.Hour)
		s.BackendSeconds = at.Sub(s.BackendStart).Seconds()
		sessions = append(sessions, s)
	}
	for k := 0; k < idle; k++ {
		add(int32(1000+k), collectors.Session{State: "idle", StateSeconds: float64(60 + 10*i + k), WaitEventType: "Client", WaitEvent: "ClientRead",
			Query: `SELECT "candidates"."id" FROM "candidates" LIMIT 21`})
	}
	add(899, collectors.Session{State: "idle in transaction", StateSeconds: 30, XactSeconds: 31, Query: `SELECT COUNT(*) FROM "candidates"`})
	if blocking {
		add(900, collectors.Session{State: "idle in transaction", StateSeconds: float64(10 * (i - 11)), XactSeconds: float64(10 * (i - 11)),
			Query: `UPDATE "jobs" SET "status" = "status" WHERE "jobs"."id" = 20001`})
		blocker := sessions[len(sessions)-1].PID
		for k := 0; k < 6; k++ {
			add(int32(901+k), collectors.Session{State: "active", StateSeconds: float64(10 * (i - 12)), QuerySeconds: float64(10 * (i - 12)),
				XactSeconds: float64(10 * (i - 12)), WaitEventType: "Lock", WaitEvent: "transactionid", BlockedBy: []int32{blocker},
				Query: `UPDATE "jobs" SET "status" = "status" WHERE "jobs"."id" = 20001`})
		}
	}
	add(898, collectors.Session{State: "active", StateSeconds: 1, QuerySeconds: 1, Query: `SELECT COUNT(*), pg_sleep(1.5) FROM "applications"`})
	pg := &collectors.PGStats{Sample: sample, Target: "10.0.0.5:5432/talentflow", ServerVersion: "15.5", ServerVersionNum: 150005,
		MaxConnections: 40, SuperuserReservedConnections: 3, Total: len(sessions), ByState: map[string]int{}, Sessions: sessions}
	group := collectors.SessionGroup{ApplicationName: "talentflow-web", Usename: "talentflow", ClientAddr: "10.0.1.10", Datname: "talentflow",
		ByState: map[string]int{}, OldestBackendSeconds: at.Sub(t0.Add(-time.Hour)).Seconds()}
	for _, s := range sessions {
		pg.ByState[s.State]++
		group.ByState[s.State]++
		group.Total++
		if s.WaitEventType == "Lock" {
			pg.Waiting++
		}
		if s.State == "idle" {
			group.OldestIdleSeconds = max(group.OldestIdleSeconds, s.StateSeconds)
		}
	}
	pg.Groups = []collectors.SessionGroup{group}

	probe := &collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 3.2}
	if i >= 30 && before {
		probe = &collectors.ProbeResult{SampledAt: at, SQLState: "53300",
			Error: "remaining connection slots are reserved for non-replication superuser connections"}
	}

	leaked := 3 * i
	if !before {
		leaked = 2
	}
	rd := &collectors.RedisStats{Sample: sample, Target: "10.0.0.6:6379/0", ServerVersion: "7.2.4", MaxClients: 200,
		TotalConnectionsReceived: int64(1000 + 3*i), ClientsSampledAt: at, ClientListEverySeconds: 1}
	if i >= 55 && before {
		rd.RejectedConnections = int64(4 * (i - 54))
	} else if !before {
		rd.RejectedConnections = 20
	}
	for k := 0; k < 10; k++ {
		rd.Clients = append(rd.Clients, collectors.RedisClient{ID: int64(k + 1), Addr: fmt.Sprintf("10.0.3.4:%d", 5000+k),
			Name: fmt.Sprintf("celery-%d", k), LibName: "redis-py", AgeSeconds: 7200, IdleSeconds: 1, Cmd: "brpop"})
	}
	for k := 0; k < leaked; k++ {
		age := int64(10*i - 10*k/3)
		rd.Clients = append(rd.Clients, collectors.RedisClient{ID: int64(100 + k), Addr: fmt.Sprintf("10.0.2.7:%d", 40000+k),
			Name: fmt.Sprintf("analytics-cache-%d", k), LibName: "redis-py", AgeSeconds: age, IdleSeconds: age, Cmd: "get"})
	}
	rd.ConnectedClients = int64(len(rd.Clients))
	rd.Groups = []collectors.RedisGroup{{Host: "10.0.3.4", Name: "celery-#", LibName: "redis-py", Count: 10, MaxIdleSeconds: 1, OldestAgeSeconds: 7200}}
	if leaked > 0 {
		rd.Groups = append([]collectors.RedisGroup{{Host: "10.0.2.7", Name: "analytics-cache-#", LibName: "redis-py", Count: leaked,
			MaxIdleSeconds: int64(10 * i), OldestAgeSeconds: int64(10 * i)}}, rd.Groups...)
	}

	jobs := &collectors.JobsStats{Sample: sample, OverCapacity: []collectors.JobCapacity{}}
	if i >= 15 {
		jobs.OverCapacity = []collectors.JobCapacity{{ID: "12345", Label: "Senior Backend Engineer", Count: 58, Limit: 50, Excess: 8}}
	}
	return collectors.Snapshot{TakenAt: at, Postgres: pg, Probe: probe, Redis: rd, Jobs: jobs, Errors: map[string]string{}}
}

func fixtureAudit() []actions.AuditEntry {
	op := actions.Operator{User: "oncall", SSHClient: "10.9.0.4"}
	at := func(step int) time.Time { return t0.Add(time.Duration(step) * 10 * time.Second) }
	prev, timeout := "0", "5min"
	return []actions.AuditEntry{
		{Time: at(0).Add(-24 * time.Hour), ActionID: "old", Phase: actions.PhaseResult, Operator: op, Action: actions.ActionTerminate, Done: []int64{1}},
		{Time: at(57), ActionID: "a1", Phase: actions.PhaseDeclined, Operator: op, Server: "10.0.0.5:5432", Action: actions.ActionTerminate,
			Predicate: "state=idle app=talentflow-web", Previewed: []int64{1000, 1001, 1002}},
		{Time: at(59), ActionID: "a2", Phase: actions.PhaseIntent, Operator: op, Server: "10.0.0.5:5432", Action: actions.ActionTerminate,
			Predicate: "state=idle idle_over=10m app=talentflow-web", Confirmed: true},
		{Time: at(59).Add(2 * time.Second), ActionID: "a2", Phase: actions.PhaseResult, Operator: op, Server: "10.0.0.5:5432", Action: actions.ActionTerminate,
			Predicate: "state=idle idle_over=10m app=talentflow-web", Confirmed: true, Done: make([]int64, 25), Gone: []int64{1020},
			Skipped: []actions.AuditTarget{{ID: 1021, Reason: "state changed to active"}}},
		{Time: at(59).Add(20 * time.Second), ActionID: "a3", Phase: actions.PhaseResult, Operator: op, Server: "10.0.0.6:6379", Action: actions.ActionRedisKill,
			Predicate: "host=10.0.2.7 name=analytics-cache-*", Confirmed: true, Done: make([]int64, 175)},
		{Time: at(62), ActionID: "a4", Phase: actions.PhaseRefused, Operator: op, Server: "10.0.0.5:5432", Action: actions.ActionTerminate,
			Predicate: "app=slotwatch", Error: "slotwatch's own sessions are protected"},
		{Time: at(63), ActionID: "a5", Phase: actions.PhaseResult, Operator: op, Server: "10.0.0.5:5432", Action: actions.ActionGuardSet,
			Setting: "idle_session_timeout", Role: "talentflow", Previous: &prev, New: &timeout, Confirmed: true},
	}
}

// TestGoldenReport writes the fixture as a recording, reads it back and
// compares the report with testdata/incident.golden.md (go test -update
// rewrites it after a deliberate change).
func TestGoldenReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incident.jsonl")
	w, err := recording.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range fixtureTimeline() {
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := FromFile(&got, path, fixtureAudit(), Options{Recording: "incident.jsonl", AuditSource: "audit.jsonl"}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "incident.golden.md")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if got.String() != string(want) {
		t.Fatalf("report differs from %s (go test ./report -update after a deliberate change):\n%s", golden, got.String())
	}
}

// TestReportContents checks what a postmortem must say, independently of
// the golden file's exact wording.
func TestReportContents(t *testing.T) {
	b := NewBuilder(nil)
	for _, s := range fixtureTimeline() {
		b.Add(s)
	}
	var out bytes.Buffer
	if err := b.Write(&out, Options{Recording: "x.jsonl", Audit: fixtureAudit(), AuditSource: "audit.jsonl"}); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"2024-01-21 15:32:00 UTC", "2024-01-21 15:47:50 UTC", "96 (one every 10s)",
		"- PostgreSQL connections peaked at 36 of 37 usable (97%), max_connections 40 at 15:35:00; up to 27 sessions sat idle.",
		"- New connections were refused (SQLSTATE 53300) in 30 of 96 probes, from 15:37:00 to 15:41:50.",
		"- Redis clients peaked at 187 of 200 maxclients (94%) at 15:41:50, 177 of them analytics-cache-# from 10.0.2.7.",
		"| Clients of analytics-cache-# on 10.0.2.7 |", "| 15:40:40 | 166 | 0 | 156 |",
		"PostgresConnectionLimitReached", "inactive → pending", "pending → firing", "firing → resolved",
		"| PostgreSQL connections used | 36 of 37 usable (97%), max_connections 40 |",
		"| Connect probe refusals | 30 of 96 attempts refused (SQLSTATE 53300",
		"| Redis connected clients | 187 of 200 maxclients (94%) |",
		"| Redis rejected connections | +20 during the recording",
		"job 12345 \"Senior Backend Engineer\": 58 of 50, 8 over",
		"| talentflow-web | talentflow |",
		"| 10.0.2.7 | analytics-cache-# | redis-py | 177 |",
		"Persistent connections that never age out", "Redis client leak", "Idle-in-transaction session holding locks",
		"Over-capacity rows from a check-then-insert race", "Idle-in-transaction session holding locks others wait on: pid 900", "New connections refused while slots are reserved",
		"| 15:41:52 | oncall (10.9.0.4) | terminate | state=idle idle_over=10m app=talentflow-web on 10.0.0.5:5432 | 25 done, 1 already gone, 1 skipped |",
		"175 done", "previewed 3 targets, not confirmed", "refused: slotwatch's own sessions are protected",
		"idle_session_timeout for talentflow: 0 → 5min", "1 audit entry outside the recording's time range",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "| 15:41:50 | oncall") || strings.Contains(md, "| 15:41:30 | action |") || strings.Contains(md, " → inactive") || strings.Count(md, "on: pid 900 (") != 1 {
		t.Errorf("an intent line is listed, an initial inactive state is shown, or the blocker finding repeats")
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestReportOfEmptyAndDamagedRecordings(t *testing.T) {
	var out bytes.Buffer
	if err := NewBuilder(nil).Write(&out, Options{Recording: "empty.jsonl"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "holds no readable snapshot") {
		t.Fatalf("empty report:\n%s", out.String())
	}
	path := filepath.Join(t.TempDir(), "cut.jsonl")
	w, err := recording.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		w.Write(fixtureSnapshot(i))
	}
	w.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"taken_at":"2024-01-21T15:3`)
	f.Close()
	out.Reset()
	if _, err := FromFile(&out, path, nil, Options{Recording: "cut.jsonl"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(1 unreadable lines skipped)") || !strings.Contains(out.String(), "| Snapshots | 3 (one every 10s) |") {
		t.Fatalf("damaged recording report:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "No audit log was found") {
		t.Fatalf("report without --audit must say so:\n%s", out.String())
	}
}

func TestSparklineAndSpacing(t *testing.T) {
	if got := sparkline([]int64{0, 1, 2, 3, 4, 5, 6, 7}, 8, 0); got != "▁▂▃▄▅▆▇█" {
		t.Fatalf("sparkline = %q", got)
	}
	if got := sparkline([]int64{5, 5, 5}, 10, 0); got != "███" {
		t.Fatalf("a flat line is drawn at its level from zero, not at the bottom: %q", got)
	}
	if got := sparkline([]int64{50, 100}, 10, 200); got != "▃▅" {
		t.Fatalf("scaled to maxclients: %q", got)
	}
	if got := sparkline([]int64{0, 0, 9, 0, 0, 0}, 3, 0); got != "▁█▁" {
		t.Fatalf("a spike must survive bucketing: %q", got)
	}
	idx := evenlySpaced(100, 5)
	if len(idx) != 5 || idx[0] != 0 || idx[4] != 99 {
		t.Fatalf("evenlySpaced = %v", idx)
	}
	if cell("a|b\nc") != `a\|b c` || cell("") != "–" {
		t.Fatalf("cell escaping: %q", cell("a|b\nc"))
	}
}

func TestLongTimelinesAndManyFindingsAreCut(t *testing.T) {
	b := NewBuilder(nil)
	b.Add(fixtureSnapshot(0))
	for i := 0; i < 250; i++ {
		b.transitions = append(b.transitions, analysis.Transition{Rule: fmt.Sprintf("Flap%03d", i), From: analysis.Pending, To: analysis.Resolved, At: t0})
	}
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("f/%d", i)
		b.findings[key] = &seenFinding{finding: analysis.Finding{ID: key, Severity: "warning", Title: "T", About: key}}
		b.order = append(b.order, key)
	}
	var out bytes.Buffer
	if err := b.Write(&out, Options{}); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	if !strings.Contains(md, "| Flap000: ") || !strings.Contains(md, "| Flap249: ") || strings.Contains(md, "| Flap100: ") ||
		!strings.Contains(md, "150 entries in the middle of the recording are left out") {
		t.Errorf("timeline not cut to its first and last 50 rows")
	}
	if !strings.Contains(md, "findings; the 12 most severe are shown.") || strings.Count(md, "\n### ") != 12 {
		t.Errorf("findings not cut to 12")
	}
}

func TestFromFileRefusesARecordingWithNoSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage.jsonl")
	if err := os.WriteFile(path, []byte("garbage\n{\"taken_at\":\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	bad, err := FromFile(&out, path, nil, Options{Recording: "garbage.jsonl"})
	if !errors.Is(err, ErrEmptyRecording) || !strings.Contains(err.Error(), "holds no readable snapshot") {
		t.Fatalf("error %v, want ErrEmptyRecording with a sentence", err)
	}
	if len(bad) != 2 || out.Len() != 0 {
		t.Fatalf("want both lines reported bad and nothing written; bad=%v, wrote %d bytes", bad, out.Len())
	}
}
