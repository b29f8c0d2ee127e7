package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
)

// TestClearedFindingsAreNotCounted: a finding the pipeline keeps for a
// while after it cleared is not counted in slotwatch_findings.
func TestClearedFindingsAreNotCounted(t *testing.T) {
	s := incidentSnapshot(t)
	f := analysis.NewPipeline(analysis.DefaultRules()).Step(s)
	f.Findings = []analysis.Finding{
		{ID: analysis.FindingPersistentConnections + "/a", Severity: analysis.SeverityCritical},
		{ID: analysis.FindingPersistentConnections + "/b", Severity: analysis.SeverityInfo, Cleared: s.TakenAt.Add(-time.Minute)},
		{ID: analysis.FindingConnectionsRefused + "/postgres", Severity: analysis.SeverityInfo, Cleared: s.TakenAt},
	}
	out := scrape(t, exporterWith(f, DefaultTopN))
	for _, want := range []string{
		`slotwatch_findings{kind="persistent-connections"} 1`,
		`slotwatch_findings{kind="connections-refused"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
}
