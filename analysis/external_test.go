package analysis

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

const teamRule = `pg_stat_activity_count{datname="talentflow"} >= pg_settings_max_connections * 0.9`

func TestConnectionRuleThreshold(t *testing.T) {
	for expr, want := range map[string]float64{
		teamRule: 0.9,
		`sum by (instance) (pg_stat_activity_count) >= on(instance) 0.85 * pg_settings_max_connections`: 0.85,
		`sum(pg_stat_activity_count) > pg_settings_max_connections{job="pg"} * .8`:                      0.8,
	} {
		got, ok := ConnectionRuleThreshold(expr)
		if !ok || got != want {
			t.Errorf("%s: threshold %g %v, want %g", expr, got, ok, want)
		}
	}
	if _, ok := ConnectionRuleThreshold(`sum(pg_stat_activity_count) > 90`); ok {
		t.Error("a rule without pg_settings_max_connections has no fractional threshold")
	}
}

func TestCorrectedRuleIsTheShippedOne(t *testing.T) {
	fixed, ok := CorrectedConnectionRule(teamRule)
	if !ok {
		t.Fatal("the team's rule is not recognised as the broken pattern")
	}
	shipped, err := os.ReadFile("../deploy/prometheus/slotwatch-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(shipped), "expr: "+fixed+"\n") {
		t.Errorf("the corrected expression %q is not the one deploy/prometheus/slotwatch-rules.yaml ships (and tests)", fixed)
	}
	if _, ok := CorrectedConnectionRule(fixed); ok {
		t.Error("the corrected expression is itself reported as broken")
	}
}

// withTeamRule adds the team's alerting, read at `at`, to a snapshot.
func withTeamRule(s collectors.Snapshot, at time.Time, state string) collectors.Snapshot {
	s.Errors = map[string]string{}
	s.Alerting = &collectors.AlertingStats{
		Sample: collectors.Sample{SampledAt: at, LastGoodAt: at},
		Rules: []collectors.ExternalRule{{Name: RulePGConnectionLimit, Group: "postgres", Query: teamRule,
			State: state, Health: "ok", ForSeconds: 120, LastEvaluation: at}},
	}
	return s
}

func externalFindings(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if strings.HasPrefix(f.ID, FindingExternalRuleInactive+"/") {
			out = append(out, f)
		}
	}
	return out
}

func TestInactiveTeamRuleFinding(t *testing.T) {
	p := NewPipeline(DefaultRules())
	var last Frame
	for i := 0; i <= 40; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		last = p.Step(withTeamRule(pgSnap(at, 97), at, "inactive"))
		if got := externalFindings(last.Findings); i < 30 && len(got) > 0 {
			t.Fatalf("after %ds over the threshold the finding already claims the rule is broken: %s", i, got[0].Title)
		}
	}
	got := externalFindings(last.Findings)
	if len(got) != 1 {
		t.Fatalf("want one external-rule finding after 40 s at 97%%, got %d", len(got))
	}
	f := got[0]
	if want := "your rule PostgresConnectionLimitReached is inactive at 97% — its expression matches no series"; f.Title != want {
		t.Errorf("title %q\nwant  %q", f.Title, want)
	}
	fixed, _ := CorrectedConnectionRule(teamRule)
	if len(f.Fix) == 0 || f.Fix[0] != "use: "+fixed {
		t.Errorf("fix %q should give the corrected expression", f.Fix)
	}
	if f.ID != FindingExternalRuleInactive+"/"+RulePGConnectionLimit || f.Since.IsZero() {
		t.Errorf("id %q since %v", f.ID, f.Since)
	}
}

func TestNoInactiveRuleFindingWithoutEvidence(t *testing.T) {
	cases := map[string]func(at time.Time) collectors.Snapshot{
		"rule firing": func(at time.Time) collectors.Snapshot { return withTeamRule(pgSnap(at, 97), at, "firing") },
		"under threshold": func(at time.Time) collectors.Snapshot {
			return withTeamRule(pgSnap(at, 80), at, "inactive")
		},
		"alerting failing": func(at time.Time) collectors.Snapshot {
			s := withTeamRule(pgSnap(at, 97), at, "inactive")
			s.Errors[collectors.SourceAlerting] = "cannot read alerts"
			return s
		},
		"postgres stale": func(at time.Time) collectors.Snapshot {
			s := withTeamRule(pgSnap(at, 97), at, "inactive")
			s.Errors[collectors.SourcePostgres] = "connection refused"
			return s
		},
		"rule unhealthy": func(at time.Time) collectors.Snapshot {
			s := withTeamRule(pgSnap(at, 97), at, "inactive")
			s.Alerting.Rules[0].Health = "err"
			return s
		},
	}
	for name, snap := range cases {
		p := NewPipeline(DefaultRules())
		var f Frame
		for i := 0; i <= 60; i++ {
			f = p.Step(snap(t0.Add(time.Duration(i) * time.Second)))
		}
		if got := externalFindings(f.Findings); len(got) != 0 {
			t.Errorf("%s: unexpected finding %q", name, got[0].Title)
		}
	}
}
