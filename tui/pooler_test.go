package tui

import (
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/collectors"
)

// A configured pgbouncer shows its waiting clients in the header and its
// pools pane, and a session served through a pool says which one.
func TestPoolerInHeaderPaneAndDetail(t *testing.T) {
	f := incidentFrame(t)
	pid := f.Snapshot.Postgres.Sessions[0].PID
	at := f.Snapshot.TakenAt
	f.Snapshot.PgBouncer = &collectors.PgBouncerStats{
		Sample:   collectors.Sample{SampledAt: at, LastGoodAt: at},
		Settings: collectors.PgBouncerSettings{PoolMode: "transaction", DefaultPoolSize: 5},
		Pools: []collectors.PgBouncerPool{{Database: "talentflow", User: "talentflow", ClActive: 5, ClWaiting: 47,
			SvActive: 5, MaxWaitSeconds: 8.2, PoolMode: "transaction"}},
		Stats:   []collectors.PgBouncerDB{{Database: "talentflow", AvgWaitSeconds: 8.2}},
		Servers: []collectors.PgBouncerServer{{Database: "talentflow", User: "talentflow", State: "active", RemotePID: pid}},
	}
	m := newTestModel(t, Options{Mode: ModeLive}, f, 200, 50)
	screen := m.View()
	for _, want := range []string{"pgbouncer 47 waiting, max wait 8.2s, avg wait 8.2s", "pgbouncer pools (1) · 47 waiting", "talentflow/talentflow"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if via := m.viaPool(pid); via != "via pgbouncer pool talentflow/talentflow" {
		t.Errorf("viaPool(%d) = %q, want the pool it serves", pid, via)
	}
	if via := m.viaPool(-1); via != "" {
		t.Errorf("a backend no pool serves reads %q, want nothing", via)
	}
}
