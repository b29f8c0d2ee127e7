package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// Errors worded as the collectors word them.
const (
	pgDownErr    = "cannot connect to PostgreSQL at db.talentflow.internal:5432/talentflow: dial tcp 10.0.1.5:5432: connect: connection refused; check the DSN and that the server is up"
	redisDownErr = "cannot connect to Redis at cache.talentflow.internal:6379/0: dial tcp 10.0.2.5:6379: connect: connection refused; check the URL and that the server is up"
	jobsDownErr  = "the jobs collector cannot connect to PostgreSQL at db.talentflow.internal:5432/talentflow: dial tcp 10.0.1.5:5432: connect: connection refused; check the DSN and that the server is up"
	probeDownErr = "the connect probe cannot connect to PostgreSQL at db.talentflow.internal:5432/talentflow: dial tcp 10.0.1.5:5432: connect: connection refused; check probe.dsn (or --pg) and that the server is up"
)

// pipelineFrames runs the real analysis pipeline over snaps, as the
// dashboard's feed does, so the alert states on screen are the rules' own.
func pipelineFrames(snaps []collectors.Snapshot) []analysis.Frame {
	p := analysis.NewPipeline(analysis.DefaultRules())
	out := make([]analysis.Frame, len(snaps))
	for i, s := range snaps {
		out[i] = p.Step(s)
	}
	return out
}

// showFrames is a sized model that received frames in order (the first
// one starts the console's watch), showing the last one.
func showFrames(t testing.TB, opts Options, frames []analysis.Frame, w, h int) Model {
	t.Helper()
	m := newTestModel(t, opts, frames[0], w, h)
	for _, f := range frames[1:] {
		m = update(m, frameMsg{frame: f})
	}
	return m
}

// downSnapshots: a console started 40 s ago against servers that never
// answered. Every source is configured and carries only its error.
func downSnapshots() []collectors.Snapshot {
	var out []collectors.Snapshot
	for at := fixedNow.Add(-40 * time.Second); !at.After(fixedNow); at = at.Add(10 * time.Second) {
		out = append(out, collectors.Snapshot{TakenAt: at,
			Probe: &collectors.ProbeResult{SampledAt: at, ConnectMS: 0.4, Error: "dial tcp 10.0.1.5:5432: connect: connection refused"},
			Errors: map[string]string{collectors.SourcePostgres: pgDownErr, collectors.SourceRedis: redisDownErr,
				collectors.SourceJobs: jobsDownErr, collectors.SourceProbe: probeDownErr}})
	}
	return out
}

// quietSnapshot is the fixture shrunk to a healthy server: 20 sessions,
// nobody waiting, the probe connects, no job over its limit.
func quietSnapshot(t testing.TB, at time.Time) collectors.Snapshot {
	s := loadSnapshot(t, "talentflow-incident.json")
	pg := *s.Postgres
	pg.Sessions = pg.Sessions[:20]
	pg.Total, pg.Waiting = 20, 0
	pg.ByState = map[string]int{"active": 5, "idle": 15}
	pg.Groups = collectors.GroupSessions(pg.Sessions, false)
	pg.SampledAt, pg.LastGoodAt = at, at
	r := *s.Redis
	r.ConnectedClients, r.Clients, r.Groups = 40, nil, nil
	r.SampledAt, r.LastGoodAt = at, at
	s.Postgres, s.Redis = &pg, &r
	s.Probe = &collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 4}
	s.Jobs = &collectors.JobsStats{Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, OverCapacity: []collectors.JobCapacity{}}
	s.TakenAt = at
	return s
}

// failing is s at time at with source's collector failing since lastGood:
// the data stays what it last was (contract C3).
func failing(s collectors.Snapshot, at time.Time, errs map[string]string) collectors.Snapshot {
	s.TakenAt = at
	s.Errors = errs
	return s
}

// blindSnapshots: three quiet minutes, then PostgreSQL stops answering for
// 40 s. No rule is pending or firing, and the screen must not say OK.
func blindSnapshots(t testing.TB) []collectors.Snapshot {
	var out []collectors.Snapshot
	lastGood := fixedNow.Add(-40 * time.Second)
	for at := fixedNow.Add(-3 * time.Minute); !at.After(fixedNow); at = at.Add(10 * time.Second) {
		if !at.After(lastGood) {
			out = append(out, quietSnapshot(t, at))
			continue
		}
		s := quietSnapshot(t, lastGood)
		s.Probe = &collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 4}
		s.Redis = quietSnapshot(t, at).Redis
		s.Jobs = quietSnapshot(t, at).Jobs
		out = append(out, failing(s, at, map[string]string{collectors.SourcePostgres: "PostgreSQL at db.talentflow.internal:5432/talentflow: no answer within the statement timeout (2s); the server may be overloaded"}))
	}
	return out
}

// staleSnapshots: the incident for three minutes (the alerts fire), then
// Redis and the jobs query fail for 45 s while PostgreSQL keeps answering.
func staleSnapshots(t testing.TB) []collectors.Snapshot {
	base := loadSnapshot(t, "talentflow-incident.json")
	lastGood := fixedNow.Add(-45 * time.Second)
	var out []collectors.Snapshot
	for at := fixedNow.Add(-3 * time.Minute); !at.After(fixedNow); at = at.Add(5 * time.Second) {
		s := base
		pg := *base.Postgres
		pg.SampledAt, pg.LastGoodAt = at, at
		s.Postgres = &pg
		pr := *base.Probe
		pr.SampledAt = at
		s.Probe = &pr
		r := *base.Redis
		j := *base.Jobs
		s.Redis, s.Jobs = &r, &j
		s.TakenAt = at
		if !at.After(lastGood) {
			r.SampledAt, r.LastGoodAt = at, at
			j.SampledAt, j.LastGoodAt = at, at
			out = append(out, s)
			continue
		}
		r.SampledAt, r.LastGoodAt = at, lastGood
		j.SampledAt, j.LastGoodAt = at, lastGood
		out = append(out, failing(s, at, map[string]string{collectors.SourceRedis: redisDownErr, collectors.SourceJobs: jobsDownErr}))
	}
	return out
}

// TestGoldenBlind pins what a war-room screen says when slotwatch cannot
// see: every source DOWN, a source STALE under firing alerts, and a blind
// source with nothing firing.
func TestGoldenBlind(t *testing.T) {
	cases := map[string][]analysis.Frame{
		"down":  pipelineFrames(downSnapshots()),
		"stale": pipelineFrames(staleSnapshots(t)),
		"blind": pipelineFrames(blindSnapshots(t)),
	}
	for name, frames := range cases {
		for _, size := range [][2]int{{80, 24}, {200, 50}} {
			t.Run(fmt.Sprintf("%s/%dx%d", name, size[0], size[1]), func(t *testing.T) {
				m := showFrames(t, Options{Mitigator: &fakeMitigator{}}, frames, size[0], size[1])
				v := m.View()
				checkScreen(t, v, size[0], size[1])
				golden.RequireEqual(t, []byte(v))
			})
		}
	}
}

// TestDownShowsNoNumbers: a source that never answered shows DOWN, its
// error and how long, and not one number that reads as a measurement.
func TestDownShowsNoNumbers(t *testing.T) {
	m := showFrames(t, Options{}, pipelineFrames(downSnapshots()), 200, 50)
	v := m.View()
	for _, want := range []string{"PG DOWN no answer for 40s: cannot connect to PostgreSQL",
		"Redis DOWN no answer for 40s", "jobs DOWN", "BLIND    no PostgreSQL data for 40s (DOWN)",
		"BLIND    no Redis data for 40s (DOWN)", "no data (DOWN 40s)", "PostgreSQL: no answer"} {
		if !strings.Contains(v, want) {
			t.Errorf("screen lacks %q:\n%s", want, v)
		}
	}
	for _, bad := range []string{"0/0", "max 0", "0%", "OK no alert", "OK every job", "jobs over capacity",
		"no session matches", "Jobs not configured"} {
		if strings.Contains(v, bad) {
			t.Errorf("a DOWN screen says %q:\n%s", bad, v)
		}
	}
}

// TestStaleAgeCountsUp: the age of a stale source is its last good sample
// against the model's clock, so it keeps counting while the display waits
// for the next frame, and with every failed sample that arrives.
func TestStaleAgeCountsUp(t *testing.T) {
	now := fixedNow
	frames := pipelineFrames(staleSnapshots(t))
	m := showFrames(t, Options{Now: func() time.Time { return now }}, frames, 200, 50)
	if v := m.View(); !strings.Contains(v, "STALE 45s") {
		t.Fatalf("want STALE 45s:\n%s", v)
	}
	now = now.Add(20 * time.Second)
	m = update(m, tickMsg(now))
	if v := m.View(); !strings.Contains(v, "STALE 1m05s") || !strings.Contains(v, "no Redis data for 1m05s") {
		t.Fatalf("20 s later the age must read 1m05s:\n%s", v)
	}
	// The next failed sample arrives 25 s after the last one.
	last := frames[len(frames)-1].Snapshot
	next := failing(last, last.TakenAt.Add(25*time.Second), last.Errors)
	now = now.Add(5 * time.Second)
	m = update(m, frameMsg{frame: analysis.Frame{Snapshot: next, Alerts: frames[len(frames)-1].Alerts}})
	if v := m.View(); !strings.Contains(v, "STALE 1m10s") {
		t.Fatalf("after the next failed sample the age must read 1m10s:\n%s", v)
	}
}

// TestNeverOKWhileBlind: with nothing firing, a blind source still takes
// the OK away, and the held rules are named.
func TestNeverOKWhileBlind(t *testing.T) {
	frames := pipelineFrames(blindSnapshots(t))
	for _, a := range frames[len(frames)-1].Alerts {
		if a.State == analysis.Firing || a.State == analysis.Pending {
			t.Fatalf("fixture: %s is %s; this test needs a quiet server", a.Name, a.State)
		}
	}
	m := showFrames(t, Options{}, frames, 80, 24)
	v := m.View()
	if strings.Contains(v, "OK no alert") {
		t.Fatalf("says OK while PostgreSQL is blind:\n%s", v)
	}
	if !strings.Contains(v, "?? BLIND    no PostgreSQL data for 40s; held: PostgresConnectionLimitReached") {
		t.Fatalf("does not say it is blind:\n%s", v)
	}
	// The same quiet server with fresh data is OK.
	m = showFrames(t, Options{}, pipelineFrames([]collectors.Snapshot{quietSnapshot(t, fixedNow)}), 80, 24)
	if v := m.View(); !strings.Contains(v, "OK no alert pending or firing") {
		t.Fatalf("a healthy server with fresh data should read OK:\n%s", v)
	}
}

// TestJobsPane: absent when the jobs query does not apply, "no data" when
// it never answered, and OK only on fresh data.
func TestJobsPane(t *testing.T) {
	fresh := quietSnapshot(t, fixedNow)
	none := fresh
	none.Jobs = nil
	neverAnswered := fresh
	neverAnswered.Jobs = &collectors.JobsStats{Sample: collectors.Sample{SampledAt: fixedNow}, OverCapacity: []collectors.JobCapacity{}}
	neverAnswered.Errors = map[string]string{collectors.SourceJobs: jobsDownErr}
	stale := fresh
	j := *fresh.Jobs
	j.LastGoodAt = fixedNow.Add(-time.Minute)
	stale.Jobs = &j
	stale.Errors = map[string]string{collectors.SourceJobs: jobsDownErr}
	cases := []struct {
		name      string
		s         collectors.Snapshot
		want, not []string
	}{
		{"not applicable", none, nil, []string{"Jobs", "jobs"}},
		{"never answered", neverAnswered, []string{"jobs DOWN", "no data (DOWN"}, []string{"OK every job", "jobs over capacity"}},
		{"stale", stale, []string{"Jobs STALE 1m00s (0)", "none over capacity 1m00s ago"}, []string{"OK every job"}},
		{"fresh", fresh, []string{"OK every job within its limit", "jobs over capacity 0"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestModel(t, Options{}, analysis.Frame{Snapshot: c.s}, 120, 40).View()
			for _, w := range c.want {
				if !strings.Contains(v, w) {
					t.Errorf("lacks %q:\n%s", w, v)
				}
			}
			for _, n := range c.not {
				if strings.Contains(v, n) {
					t.Errorf("says %q:\n%s", n, v)
				}
			}
		})
	}
}

// TestEmptyPanesSayWhy: no data, no sessions at all, and a filter that
// hides every row read differently.
func TestEmptyPanesSayWhy(t *testing.T) {
	empty := quietSnapshot(t, fixedNow)
	pg := *empty.Postgres
	pg.Sessions, pg.Groups, pg.Total, pg.ByState = nil, nil, 0, map[string]int{}
	empty.Postgres = &pg
	v := newTestModel(t, Options{}, analysis.Frame{Snapshot: empty}, 120, 40).View()
	if !strings.Contains(v, "no client session") || strings.Contains(v, "no session matches") {
		t.Errorf("a server with no sessions should say so, not blame a filter:\n%s", v)
	}
	m := newTestModel(t, Options{}, incidentFrame(t), 120, 40)
	m = update(update(m, keyMsg("/")), keyMsg("zzz-nothing"))
	if v := m.View(); !strings.Contains(v, "no session matches") {
		t.Errorf("a filter hiding every row should say no session matches:\n%s", v)
	}
	redisOnly := quietSnapshot(t, fixedNow)
	redisOnly.Postgres, redisOnly.Probe, redisOnly.Jobs = nil, nil, nil
	if v := newTestModel(t, Options{}, analysis.Frame{Snapshot: redisOnly}, 120, 40).View(); !strings.Contains(v, "no data: PostgreSQL not configured") {
		t.Errorf("without PostgreSQL the sessions pane should say there is no data:\n%s", v)
	}
}

// TestProbeShowsServerReason: two 53300 refusals with different server
// messages read differently; the header never invents "slots reserved".
func TestProbeShowsServerReason(t *testing.T) {
	for _, reason := range []string{"sorry, too many clients already",
		"remaining connection slots are reserved for roles with the SUPERUSER attribute"} {
		f := incidentFrame(t)
		pr := *f.Snapshot.Probe
		pr.Error, pr.Reason = "connect failed", reason
		f.Snapshot.Probe = &pr
		v := newTestModel(t, Options{}, f, 200, 50).View()
		if !strings.Contains(v, "probe FAIL 53300 3ms") || !strings.Contains(v, "!! REFUSED  probe 53300: "+reason) {
			t.Errorf("header lacks the server's reason %q:\n%s", reason, v)
		}
	}
}

// TestAlertShowsFiredAndCurrent: a firing alert whose value has recovered
// says both what fired it and what the rule sees now.
func TestAlertShowsFiredAndCurrent(t *testing.T) {
	f := incidentFrame(t)
	f.Alerts = []analysis.Alert{{Name: analysis.RulePGRefusing, State: analysis.Firing, Since: fixedNow.Add(-time.Minute),
		Value: 0, Summary: "the connect probe succeeds (7 ms)", FiredValue: 3,
		FiredSummary: "3 connect probes in a row refused with 53300"}}
	v := newTestModel(t, Options{}, f, 200, 50).View()
	if !strings.Contains(v, "fired at 3 connect probes in a row refused with 53300; now: the connect probe succeeds (7 ms)") {
		t.Fatalf("the alert line should show both values:\n%s", v)
	}
}

// TestDownAgeForALateViewer: a viewer whose first frame is the latest one
// still sees how long the source has been DOWN, from the shared history.
func TestDownAgeForALateViewer(t *testing.T) {
	frames := pipelineFrames(downSnapshots())
	v := newTestModel(t, Options{}, frames[len(frames)-1], 200, 50).View()
	if !strings.Contains(v, "PG DOWN no answer for 40s") {
		t.Fatalf("a late viewer should see the DOWN age from the history:\n%s", v)
	}
}

// TestDataWithoutLastGoodIsNotDown: a snapshot that carries data and no
// error but no last-good time (hand-made, or from another tool) is that
// snapshot's own sample, not a DOWN source.
func TestDataWithoutLastGoodIsNotDown(t *testing.T) {
	s := quietSnapshot(t, fixedNow)
	pg := *s.Postgres
	pg.LastGoodAt = time.Time{}
	s.Postgres = &pg
	v := newTestModel(t, Options{}, analysis.Frame{Snapshot: s}, 120, 40).View()
	if strings.Contains(v, "DOWN") || strings.Contains(v, "STALE") || !strings.Contains(v, "PG 20/97 used") {
		t.Fatalf("data with no error should show as fresh:\n%s", v)
	}
}

// TestAlertingIntervalIsTheSourcesOwn: the team's alerting polled every
// 60 s is not STALE 50 s after its last poll; the same data with the 15 s
// default interval is.
func TestAlertingIntervalIsTheSourcesOwn(t *testing.T) {
	frame := incidentFrame(t)
	at := frame.Snapshot.TakenAt
	polled := at.Add(-50 * time.Second)
	frame.Snapshot.Alerting = &collectors.AlertingStats{Sample: collectors.Sample{SampledAt: polled, LastGoodAt: polled},
		Alertmanager: "127.0.0.1:9093"}
	blind := "no external alerting data"
	every60 := frame
	every60.Snapshot.IntervalSeconds = map[string]float64{collectors.SourceAlerting: 60}
	m := newTestModel(t, Options{Now: func() time.Time { return at }}, every60, 200, 50)
	if v := m.View(); strings.Contains(v, blind) {
		t.Fatalf("alerting polled every 60 s shows as blind 50 s after its poll:\n%s", v)
	}
	m = newTestModel(t, Options{Now: func() time.Time { return at }}, frame, 200, 50)
	if v := m.View(); !strings.Contains(v, blind) {
		t.Fatalf("alerting at the 15 s default must be blind 50 s after its poll:\n%s", v)
	}
}
