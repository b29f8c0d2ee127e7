package analysis

import (
	"slices"
	"testing"
	"time"
)

func TestFindingsSuggestMitigations(t *testing.T) {
	_, fs := Once(incident(t0))
	m := findingsByKind(fs)

	got := one(t, m, FindingPersistentConnections).Mitigations
	if len(got) != 2 || got[0].Kind != SetPGGuard || got[1].Kind != TerminateSessions {
		t.Fatalf("persistent-connections mitigations %+v, want the guard first, then terminate", got)
	}
	if g := got[0]; g.Setting != "idle_session_timeout" || g.Role != "talentflow" || g.Value != "5min" {
		t.Errorf("guard %+v", g)
	}
	if k := got[1]; k.App != "talentflow-web" || k.User != "talentflow" || k.DB != "talentflow" ||
		!slices.Equal(k.States, []string{"idle"}) || k.IdleOver != 10*time.Minute || k.Client != "" || len(k.PIDs) != 0 {
		t.Errorf("terminate %+v, want the app/user/db group's idle sessions over 10m", k)
	}

	got = one(t, m, FindingIdleInTxBlocker).Mitigations
	if len(got) != 2 || !slices.Equal(got[0].PIDs, []int32{2001}) || got[0].Kind != TerminateSessions ||
		got[1].Setting != "idle_in_transaction_session_timeout" || got[1].Role != "talentflow" {
		t.Errorf("blocker mitigations %+v, want terminate pid 2001 and the idle-in-transaction guard", got)
	}

	got = one(t, m, FindingRedisClientLeak).Mitigations
	if len(got) != 2 || got[0].Kind != KillRedisClients || got[0].RedisHost != "10.0.5.7" ||
		got[0].RedisName != "analytics-cache-*" || got[0].RedisLib != "redis-py" ||
		got[1].Kind != SetRedisTimeout || got[1].Value != "300" {
		t.Errorf("leak mitigations %+v", got)
	}
	for _, f := range fs {
		for _, mi := range f.Mitigations {
			if mi.Label == "" {
				t.Errorf("%s: mitigation %+v without a label", f.ID, mi)
			}
		}
	}
	if ms := one(t, m, FindingCheckThenInsertRace).Mitigations; len(ms) != 0 {
		t.Errorf("a code bug got mitigations %+v", ms)
	}
}

// PostgreSQL before 14 has no idle_session_timeout: no guard to suggest.
func TestNoIdleSessionGuardBefore14(t *testing.T) {
	s := incident(t0)
	s.Postgres.ServerVersion, s.Postgres.ServerVersionNum = "13.9", 130009
	_, fs := Once(s)
	for _, mi := range one(t, findingsByKind(fs), FindingPersistentConnections).Mitigations {
		if mi.Setting == "idle_session_timeout" {
			t.Errorf("guard suggested on PostgreSQL 13: %+v", mi)
		}
	}
}

// The folded name becomes a glob that matches the group's names and treats
// glob syntax in the name literally.
func TestFoldedNameGlob(t *testing.T) {
	for folded, want := range map[string]string{
		"analytics-cache-#": "analytics-cache-*", "": "", "w#-c#x#": "w*-c*x*", "a*b?[c]": "a[*]b[?][[]c]",
	} {
		if got := foldedNameGlob(folded); got != want {
			t.Errorf("foldedNameGlob(%q) = %q, want %q", folded, got, want)
		}
	}
}

func TestSinceIsFirstSeenInTheStream(t *testing.T) {
	p := NewPipeline(DefaultRules())
	p.Step(healthy(t0))
	p.Step(incident(t0.Add(time.Minute)))
	f := p.Step(incident(t0.Add(2 * time.Minute)))
	for _, fd := range f.Findings {
		if !fd.Since.Equal(t0.Add(time.Minute)) {
			t.Errorf("%s since %s, want the first snapshot it appeared in (+1m)", fd.ID, fd.Since)
		}
	}
	_, once := Once(incident(t0))
	for _, fd := range once {
		if !fd.Since.IsZero() {
			t.Errorf("one-shot %s has since %s", fd.ID, fd.Since)
		}
	}
}

// A pipeline without trend evaluates exactly what a full one does.
func TestWithoutTrendChangesOnlyTheTrend(t *testing.T) {
	full, lean := NewPipeline(DefaultRules()), NewPipeline(DefaultRules()).WithoutTrend()
	for i := range 5 {
		s := incident(t0.Add(time.Duration(i) * time.Minute))
		a, b := full.Step(s), lean.Step(s)
		if len(a.Trend) == 0 || len(b.Trend) != 0 {
			t.Fatalf("trend lengths %d (full) and %d (lean)", len(a.Trend), len(b.Trend))
		}
		if len(a.Alerts) != len(b.Alerts) || len(a.Findings) != len(b.Findings) {
			t.Fatalf("lean pipeline disagrees: %d/%d alerts, %d/%d findings", len(a.Alerts), len(b.Alerts), len(a.Findings), len(b.Findings))
		}
		for j := range a.Alerts {
			if a.Alerts[j] != b.Alerts[j] {
				t.Errorf("alert %d: %+v vs %+v", j, a.Alerts[j], b.Alerts[j])
			}
		}
	}
}
