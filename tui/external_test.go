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

// externalFrame is the incident with the team's Alertmanager firing its own
// connection alert and Prometheus holding a pending one (contract C8).
func externalFrame(t testing.TB) analysis.Frame {
	f := incidentFrame(t)
	at := f.Snapshot.TakenAt
	f.Snapshot.Alerting = &collectors.AlertingStats{
		Sample:       collectors.Sample{SampledAt: at.Add(-5 * time.Second), LastGoodAt: at.Add(-5 * time.Second)},
		Alertmanager: "alertmanager.internal:9093",
		Alerts: []collectors.ExternalAlert{
			{Name: "PGConnectionsHigh", State: collectors.ExternalFiring, Severity: "critical", Source: "alertmanager",
				Summary: "pg_stat_activity_count > 90 on talentflow", Since: at.Add(-6 * time.Minute), External: true},
			{Name: "APILatencyHigh", State: collectors.ExternalPending, Source: "prometheus",
				Summary: "p99 above 2s", Since: at.Add(-30 * time.Second), External: true},
		},
	}
	return f
}

// TestExternalAlertsInHeader: the team's alerts sit beside slotwatch's in
// the same order of urgency, each marked ext with where it came from.
func TestExternalAlertsInHeader(t *testing.T) {
	v := newTestModel(t, Options{}, externalFrame(t), 200, 50).View()
	lines := strings.Split(v, "\n")
	index := func(s string) int {
		for i, l := range lines {
			if strings.Contains(l, s) {
				return i
			}
		}
		t.Fatalf("screen lacks %q:\n%s", s, v)
		return -1
	}
	fired := index("!! FIRING   ext PGConnectionsHigh since 15:40:00 (6m00s) [alertmanager]: pg_stat_activity_count > 90")
	pending := index(" ~ PENDING  ext APILatencyHigh since 15:45:30 (30s) [prometheus]: p99 above 2s")
	own := index("!! FIRING   JobsOverCapacity")
	ownPending := index(" ~ PENDING  RedisClientsGrowing")
	if !(own < fired && fired < ownPending && ownPending < pending) {
		t.Errorf("order: slotwatch firing %d, external firing %d, slotwatch pending %d, external pending %d", own, fired, ownPending, pending)
	}
}

// TestExternalAlertingBlind: when the team's alerting stops answering, its
// last alerts are marked stale and the screen says it cannot see them.
func TestExternalAlertingBlind(t *testing.T) {
	f := externalFrame(t)
	al := *f.Snapshot.Alerting
	al.LastGoodAt = f.Snapshot.TakenAt.Add(-2 * time.Minute)
	f.Snapshot.Alerting = &al
	f.Snapshot.Errors = map[string]string{collectors.SourceAlerting: "cannot read alerts from Alertmanager at alertmanager.internal:9093: connection refused"}
	v := newTestModel(t, Options{}, f, 200, 50).View()
	for _, want := range []string{"ext PGConnectionsHigh (stale)", "?? BLIND    no external alerting data for 2m00s"} {
		if !strings.Contains(v, want) {
			t.Errorf("screen lacks %q:\n%s", want, v)
		}
	}
}

func TestGoldenExternal(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			v := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, externalFrame(t), size[0], size[1]).View()
			checkScreen(t, v, size[0], size[1])
			golden.RequireEqual(t, []byte(v))
		})
	}
}
