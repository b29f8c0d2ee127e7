package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

func alertNamed(t *testing.T, f Frame, name string) Alert {
	t.Helper()
	for _, a := range f.Alerts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no alert %s in frame at %s", name, f.Snapshot.TakenAt)
	return Alert{}
}

type step struct {
	after time.Duration // since t0
	snap  func(at time.Time) collectors.Snapshot
	state AlertState
	since time.Duration // since t0
}

func runSteps(t *testing.T, p *Pipeline, rule string, steps []step) {
	t.Helper()
	for i, st := range steps {
		at := t0.Add(st.after)
		a := alertNamed(t, p.Step(st.snap(at)), rule)
		if a.State != st.state || !a.Since.Equal(t0.Add(st.since)) {
			t.Fatalf("step %d (+%s): %s is %s since +%s, want %s since +%s (%s)",
				i, st.after, rule, a.State, a.Since.Sub(t0), st.state, st.since, a.Summary)
		}
	}
}

func used(n int) func(time.Time) collectors.Snapshot {
	return func(at time.Time) collectors.Snapshot { return pgSnap(at, n) }
}

func TestConnectionLimitTransitions(t *testing.T) {
	p := NewPipeline(DefaultRules())
	runSteps(t, p, RulePGConnectionLimit, []step{
		{0, used(50), Inactive, 0},
		{10 * time.Second, used(92), Pending, 10 * time.Second},
		{70 * time.Second, used(95), Pending, 10 * time.Second},
		{129 * time.Second, used(95), Pending, 10 * time.Second}, // 1m59s: not yet
		{130 * time.Second, used(92), Firing, 130 * time.Second},
		{200 * time.Second, used(97), Firing, 130 * time.Second},
		{210 * time.Second, used(60), Resolved, 210 * time.Second},
		{220 * time.Second, used(60), Resolved, 210 * time.Second},
		{230 * time.Second, used(90), Pending, 230 * time.Second},  // resolved → pending
		{240 * time.Second, used(89), Resolved, 240 * time.Second}, // pending → resolved
	})
}

func TestConnectionLimitValueAndSummary(t *testing.T) {
	a := alertNamed(t, NewPipeline(DefaultRules()).Step(pgSnap(t0, 92)), RulePGConnectionLimit)
	if a.Value != 92 {
		t.Errorf("value %g, want 92", a.Value)
	}
	want := "92 of 100 max_connections in use (92%, threshold 90%); 97 usable by ordinary roles"
	if a.Summary != want {
		t.Errorf("summary %q, want %q", a.Summary, want)
	}
}

func TestTransitionsAreReported(t *testing.T) {
	p := NewPipeline(DefaultRules())
	p.Step(pgSnap(t0, 10))
	f := p.Step(pgSnap(t0.Add(time.Second), 95))
	var got []Transition
	for _, tr := range f.Transitions {
		if tr.Rule == RulePGConnectionLimit {
			got = append(got, tr)
		}
	}
	if len(got) != 1 || got[0].From != Inactive || got[0].To != Pending || got[0].Value != 95 || !got[0].At.Equal(t0.Add(time.Second)) {
		t.Fatalf("transitions %+v, want one inactive → pending at +1s with value 95", got)
	}
	if f := p.Step(pgSnap(t0.Add(2*time.Second), 95)); len(f.Transitions) != 0 {
		t.Fatalf("no state changed, yet transitions %+v", f.Transitions)
	}
}

// A failing collector holds the alert where it is: neither firing on stale
// data nor resolving because the console lost its connection.
func TestStaleSourceHoldsState(t *testing.T) {
	failing := func(n int) func(time.Time) collectors.Snapshot {
		return func(at time.Time) collectors.Snapshot {
			s := pgSnap(at, n)
			s.Errors = map[string]string{collectors.SourcePostgres: "connection refused"}
			return s
		}
	}
	p := NewPipeline(DefaultRules())
	runSteps(t, p, RulePGConnectionLimit, []step{
		{0, used(95), Pending, 0},
		{3 * time.Minute, failing(10), Pending, 0},
		{4 * time.Minute, used(95), Firing, 4 * time.Minute},
		{5 * time.Minute, failing(10), Firing, 4 * time.Minute},
	})
	a := alertNamed(t, p.Step(failing(10)(t0.Add(6*time.Minute))), RulePGConnectionLimit)
	if a.Value != 95 || !strings.Contains(a.Summary, "state held") {
		t.Errorf("stale alert %+v, want the last good value 95 and a note that the state is held", a)
	}
}

func TestUnconfiguredSourceStaysInactive(t *testing.T) {
	p := NewPipeline(DefaultRules())
	for i := range 5 {
		f := p.Step(pgSnap(t0.Add(time.Duration(i)*time.Minute), 99))
		for _, name := range []string{RuleRedisNearLimit, RuleRedisGrowing, RuleJobsOverCapacity, RulePGRefusing} {
			if a := alertNamed(t, f, name); a.State != Inactive {
				t.Fatalf("%s is %s without its source", name, a.State)
			}
		}
	}
}

func jobs(over int) func(time.Time) collectors.Snapshot {
	return func(at time.Time) collectors.Snapshot {
		s := collectors.Snapshot{TakenAt: at, Jobs: &collectors.JobsStats{}}
		for i := range over {
			s.Jobs.OverCapacity = append(s.Jobs.OverCapacity, collectors.JobCapacity{ID: string(rune('a' + i)), Count: 58, Limit: 50, Excess: 8})
		}
		return s
	}
}

// A rule without `for` fires on the first true evaluation.
func TestZeroForFiresImmediately(t *testing.T) {
	runSteps(t, NewPipeline(DefaultRules()), RuleJobsOverCapacity, []step{
		{0, jobs(0), Inactive, 0},
		{time.Second, jobs(1), Firing, time.Second},
		{2 * time.Second, jobs(0), Resolved, 2 * time.Second},
		{3 * time.Second, jobs(2), Firing, 3 * time.Second},
	})
}

func probe(ok bool, sampled time.Duration) func(time.Time) collectors.Snapshot {
	return func(at time.Time) collectors.Snapshot {
		pr := &collectors.ProbeResult{SampledAt: t0.Add(sampled), OK: ok}
		if !ok {
			pr.SQLState, pr.Error = "53300", "FATAL: remaining connection slots are reserved for non-replication superuser connections"
		}
		return collectors.Snapshot{TakenAt: at, Probe: pr}
	}
}

// The probe runs less often than snapshots: the same refused attempt seen in
// several snapshots counts once towards the threshold.
func TestRefusingCountsDistinctProbes(t *testing.T) {
	two := 2.0
	rules, err := ApplyOverrides(DefaultRules(), map[string]Override{RulePGRefusing: {Threshold: &two}})
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, NewPipeline(rules), RulePGRefusing, []step{
		{0, probe(true, 0), Inactive, 0},
		{10 * time.Second, probe(false, 10*time.Second), Inactive, 0},
		{11 * time.Second, probe(false, 10*time.Second), Inactive, 0}, // same attempt
		{20 * time.Second, probe(false, 20*time.Second), Firing, 20 * time.Second},
		{30 * time.Second, probe(true, 30*time.Second), Resolved, 30 * time.Second},
	})
}

func TestOnceCanOnlyBePendingForRulesWithFor(t *testing.T) {
	alerts, _ := Once(incident(t0))
	want := map[string]AlertState{
		RulePGConnectionLimit: Pending,
		RulePGRefusing:        Firing, // no `for`
		RulePGLockWaits:       Pending,
		RuleRedisNearLimit:    Inactive, // 162 of 10000
		RuleRedisGrowing:      Inactive, // no history in one pass
		RuleJobsOverCapacity:  Firing,
	}
	seen := 0
	for _, a := range alerts {
		if _, ok := want[a.Name]; !ok {
			continue // a rule on a source the incident fixture lacks
		}
		seen++
		if a.State != want[a.Name] || !a.Since.Equal(t0) {
			t.Errorf("%s: %s since %s, want %s since %s", a.Name, a.State, a.Since, want[a.Name], t0)
		}
	}
	if seen != len(want) {
		t.Errorf("got %d of the %d built-in alerts", seen, len(want))
	}
}

func redisClients(n int64) func(time.Time) collectors.Snapshot {
	return func(at time.Time) collectors.Snapshot {
		return collectors.Snapshot{TakenAt: at, Redis: &collectors.RedisStats{ConnectedClients: n, MaxClients: 200}}
	}
}

func TestRedisGrowingNeedsSustainedGrowth(t *testing.T) {
	p := NewPipeline(DefaultRules())
	var steps []step
	// +3 clients a minute for 15 minutes: after half the 10 m window the
	// expression is true (pending); 5 minutes later it fires.
	for m := 0; m <= 15; m++ {
		st := step{after: time.Duration(m) * time.Minute, snap: redisClients(int64(45 + 3*m)), state: Inactive}
		switch {
		case m >= 10:
			st.state, st.since = Firing, 10*time.Minute
		case m >= 5:
			st.state, st.since = Pending, 5*time.Minute
		}
		steps = append(steps, st)
	}
	// Clients killed: the second half of the window falls, so it resolves.
	steps = append(steps, step{16 * time.Minute, redisClients(20), Resolved, 16 * time.Minute})
	runSteps(t, p, RuleRedisGrowing, steps)
}

func TestRedisGrowingIgnoresFlatAndBursts(t *testing.T) {
	p := NewPipeline(DefaultRules())
	for m := 0; m <= 20; m++ {
		n := int64(50)
		if m == 12 {
			n = 120 // one burst, then back
		}
		f := p.Step(redisClients(n)(t0.Add(time.Duration(m) * time.Minute)))
		if a := alertNamed(t, f, RuleRedisGrowing); a.State != Inactive {
			t.Fatalf("minute %d: %s with a flat client count (%s)", m, a.State, a.Summary)
		}
	}
}

func TestRedisNearLimit(t *testing.T) {
	runSteps(t, NewPipeline(DefaultRules()), RuleRedisNearLimit, []step{
		{0, redisClients(150), Inactive, 0},
		{time.Second, redisClients(160), Pending, time.Second}, // 80% of 200
		{61 * time.Second, redisClients(190), Firing, 61 * time.Second},
		{62 * time.Second, redisClients(100), Resolved, 62 * time.Second},
	})
}

func TestLockWaits(t *testing.T) {
	waiting := func(n int) func(time.Time) collectors.Snapshot {
		return func(at time.Time) collectors.Snapshot { s := pgSnap(at, 50); s.Postgres.Waiting = n; return s }
	}
	runSteps(t, NewPipeline(DefaultRules()), RulePGLockWaits, []step{
		{0, waiting(4), Inactive, 0},
		{time.Second, waiting(47), Pending, time.Second},
		{31 * time.Second, waiting(47), Firing, 31 * time.Second},
		{32 * time.Second, waiting(0), Resolved, 32 * time.Second},
	})
}

func TestApplyOverrides(t *testing.T) {
	half, tenSec := 0.5, 10*time.Second
	rules, err := ApplyOverrides(DefaultRules(), map[string]Override{
		RulePGConnectionLimit: {Threshold: &half, For: &tenSec},
		RuleRedisGrowing:      {Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPipeline(rules)
	for _, r := range p.Rules() {
		if r.Name == RuleRedisGrowing {
			t.Fatal("disabled rule is still evaluated")
		}
	}
	runSteps(t, p, RulePGConnectionLimit, []step{
		{0, used(50), Pending, 0},
		{10 * time.Second, used(50), Firing, 10 * time.Second},
	})
	if DefaultRules()[0].Threshold != 0.9 {
		t.Fatal("ApplyOverrides changed the defaults")
	}
}

func TestApplyOverridesRejectsBadInput(t *testing.T) {
	neg := -1.0
	negFor := -time.Second
	cases := map[string]map[string]Override{
		"unknown alert rule \"PostgresConectionLimit\"": {"PostgresConectionLimit": {}},
		"threshold -1 is negative":                      {RulePGLockWaits: {Threshold: &neg}},
		"for -1s is negative":                           {RulePGLockWaits: {For: &negFor}},
	}
	for want, o := range cases {
		_, err := ApplyOverrides(DefaultRules(), o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	_, err := ApplyOverrides(DefaultRules(), map[string]Override{"Nope": {}})
	if err == nil || !strings.Contains(err.Error(), RulePGConnectionLimit) {
		t.Errorf("error %v should list the valid rule names", err)
	}
}

func TestOnceWithOverridesAndReset(t *testing.T) {
	zero := time.Duration(0)
	rules, err := ApplyOverrides(DefaultRules(), map[string]Override{RulePGConnectionLimit: {For: &zero}})
	if err != nil {
		t.Fatal(err)
	}
	alerts, _ := OnceWith(rules, pgSnap(t0, 95))
	if alerts[0].Name != RulePGConnectionLimit || alerts[0].State != Firing {
		t.Fatalf("with for 0 one pass fires: %+v", alerts[0])
	}
	p := NewPipeline(DefaultRules())
	p.Step(pgSnap(t0, 95))
	p.Reset()
	a := alertNamed(t, p.Step(pgSnap(t0.Add(-time.Hour), 10)), RulePGConnectionLimit)
	if a.State != Inactive || !a.Since.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("after Reset: %+v, want inactive since the new first snapshot", a)
	}
}

// A firing alert says what made it fire and what holds now, never only a
// current value that contradicts FIRING.
func TestAlertTextShowsFiredAndCurrentValue(t *testing.T) {
	p := NewPipeline(DefaultRules())
	runSteps(t, p, RuleJobsOverCapacity, []step{
		{0, jobs(2), Firing, 0},
		{time.Second, jobs(1), Firing, 0},
	})
	a := alertNamed(t, p.Step(jobs(1)(t0.Add(2*time.Second))), RuleJobsOverCapacity)
	if a.FiredValue != 2 || a.Value != 1 || !strings.HasPrefix(a.FiredSummary, "2 row(s)") {
		t.Fatalf("alert %+v, want fired at 2 rows and now 1", a)
	}
	if got := a.Text(); !strings.HasPrefix(got, "fired at 2 row(s) over capacity") || !strings.Contains(got, "; now: 1 row(s) over capacity") {
		t.Errorf("Text() = %q, want the fired value then the current one", got)
	}
	a = alertNamed(t, p.Step(jobs(0)(t0.Add(3*time.Second))), RuleJobsOverCapacity)
	if a.State != Resolved || a.Text() != a.Summary || a.FiredSummary != "" {
		t.Errorf("resolved alert %+v, Text %q: want only the current summary", a, a.Text())
	}
}

// The demo re-evaluates its probe within one attempt: a refusal that turns
// into a success at the same sampled_at must resolve the alert, not keep it
// firing beside "the connect probe succeeds".
func TestRefusingResolvesWhenTheSameAttemptSucceeds(t *testing.T) {
	p := NewPipeline(DefaultRules())
	runSteps(t, p, RulePGRefusing, []step{
		{0, probe(false, 0), Firing, 0},
		{time.Second, probe(false, 0), Firing, 0},
		{2 * time.Second, probe(true, 0), Resolved, 2 * time.Second},
	})
	for _, a := range p.Step(probe(true, 0)(t0.Add(3 * time.Second))).Alerts {
		if a.State == Firing && strings.Contains(a.Text(), "succeeds") && !strings.Contains(a.Text(), "fired at") {
			t.Errorf("alert %s reads %q while firing", a.Name, a.Text())
		}
	}
}

// A probe that never reached the server is an outage, not a refusal, and
// its summary says so without an empty SQLSTATE.
func TestProbeOutageSummary(t *testing.T) {
	s := collectors.Snapshot{TakenAt: t0, Probe: &collectors.ProbeResult{SampledAt: t0, Error: "dial tcp 10.0.0.5:5432: connect: connection refused"}}
	a := alertNamed(t, NewPipeline(DefaultRules()).Step(s), RulePGRefusing)
	if a.State != Inactive || a.Summary != "the connect probe cannot reach the server: dial tcp 10.0.0.5:5432: connect: connection refused" {
		t.Errorf("outage: %s %q", a.State, a.Summary)
	}
}
