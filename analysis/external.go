package analysis

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// FindingExternalRuleInactive: the team's own Prometheus rule for
// connection use is inactive while slotwatch's value is over that rule's
// threshold, i.e. the rule cannot fire. Its subject is the rule's name.
const FindingExternalRuleInactive = "external-rule-inactive"

// externalRuleGrace is how long slotwatch's value must have been over the
// threshold before the rule's last evaluation for its silence to mean the
// expression is wrong rather than that Prometheus has not scraped or
// evaluated yet (a 15 s scrape plus a 15 s evaluation interval).
const externalRuleGrace = 30 * time.Second

var (
	// The threshold of a connection-use rule: "... pg_settings_max_connections * 0.9"
	// or "0.9 * pg_settings_max_connections".
	thresholdAfter  = regexp.MustCompile(`pg_settings_max_connections(?:\{[^}]*\})?\s*\*\s*([0-9]*\.?[0-9]+)`)
	thresholdBefore = regexp.MustCompile(`([0-9]*\.?[0-9]+)\s*\*\s*pg_settings_max_connections`)
	// The broken pattern: a labelled pg_stat_activity_count compared with
	// the label-less setting, which matches no series.
	brokenComparison = regexp.MustCompile(`^\s*(pg_stat_activity_count(?:\{[^}]*\})?)\s*(>=|>)\s*(pg_settings_max_connections(?:\{[^}]*\})?\s*\*\s*[0-9]*\.?[0-9]+)\s*$`)
)

// ConnectionRuleThreshold returns the fraction of max_connections a
// connection-use rule's expression compares with, if it can tell.
func ConnectionRuleThreshold(expr string) (float64, bool) {
	m := thresholdAfter.FindStringSubmatch(expr)
	if m == nil {
		m = thresholdBefore.FindStringSubmatch(expr)
	}
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

// CorrectedConnectionRule rewrites the broken comparison into one that
// matches: sum the labelled side per instance and compare on instance.
// ok is false when expr is not that pattern.
func CorrectedConnectionRule(expr string) (string, bool) {
	m := brokenComparison.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return "", false
	}
	return fmt.Sprintf("sum by (instance) (%s) %s on(instance) %s", m[1], m[2], m[3]), true
}

// externalRuleFindings reports each of the team's connection-use rules that
// is inactive, healthy, and was last evaluated after slotwatch's slots-used
// value had been over the rule's threshold for externalRuleGrace.
func externalRuleFindings(in *input) []Finding {
	a, pg := in.snap.Alerting, in.snap.Postgres
	if a == nil || pg == nil || pg.MaxConnections <= 0 ||
		!sourceFresh(in.snap, collectors.SourcePostgres) || in.snap.Errors[collectors.SourceAlerting] != "" {
		return nil
	}
	var out []Finding
	for i := range a.Rules {
		r := &a.Rules[i]
		if r.State != "inactive" || (r.Health != "ok" && r.Health != "") {
			continue
		}
		t, ok := ConnectionRuleThreshold(r.Query)
		if !ok || float64(pg.Used()) < t*float64(pg.MaxConnections) {
			continue
		}
		since, ok := overThresholdSince(in.history, t)
		evaluated := r.LastEvaluation
		if evaluated.IsZero() {
			evaluated = a.SampledAt
		}
		if !ok || evaluated.Sub(since) < externalRuleGrace {
			continue
		}
		out = append(out, externalRuleFinding(r, pg, t, since))
	}
	return out
}

// overThresholdSince is when the current unbroken run of fresh samples with
// slots used at or over t·max_connections began.
func overThresholdSince(h *collectors.History, t float64) (time.Time, bool) {
	var since time.Time
	for i := h.Len() - 1; i >= 0; i-- {
		p := h.At(i)
		if !p.PGOK || p.PGMax <= 0 || float64(p.PGUsed) < t*float64(p.PGMax) {
			break
		}
		since = p.At
	}
	return since, !since.IsZero()
}

func externalRuleFinding(r *collectors.ExternalRule, pg *collectors.PGStats, t float64, since time.Time) Finding {
	pct := 100 * float64(pg.Used()) / float64(pg.MaxConnections)
	f := Finding{
		ID:       FindingExternalRuleInactive + "/" + r.Name,
		Severity: "warning",
		Title:    fmt.Sprintf("your rule %s is inactive at %.0f%% — its expression matches no series", r.Name, pct),
		About:    "rule " + r.Name + " (group " + r.Group + ")",
		Evidence: []string{
			fmt.Sprintf("slotwatch counts %d of %d max_connections in use (%.0f%%), at or over the rule's %.0f%% since %s",
				pg.Used(), pg.MaxConnections, pct, 100*t, since.UTC().Format(time.TimeOnly)),
			fmt.Sprintf("Prometheus evaluates %s as inactive (health ok): %s", r.Name, r.Query),
		},
	}
	if fixed, ok := CorrectedConnectionRule(r.Query); ok {
		f.Evidence = append(f.Evidence, "comparing two vectors needs identical label sets: pg_stat_activity_count carries datname, state and more, pg_settings_max_connections none, so the comparison matches nothing")
		f.Fix = append(f.Fix, "use: "+fixed)
	} else {
		f.Fix = append(f.Fix, "check the expression in Prometheus's graph view: at this load it should return a series; compare sum by (instance) (pg_stat_activity_count) with pg_settings_max_connections on(instance)")
	}
	f.Fix = append(f.Fix, "deploy/prometheus/slotwatch-rules.yaml ships the corrected rule with a promtool test")
	return f
}
