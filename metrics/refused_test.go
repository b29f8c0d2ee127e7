package metrics

import (
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

func TestRefusedConnectionsCounter(t *testing.T) {
	s := incidentSnapshot(t)
	s.Refused = &collectors.RefusedStats{Readable: true, Total: 236, Last5m: 234,
		BySQLState: map[string]int64{"53300": 234, "28P01": 2}}
	got := series(t, exporterWith(analysis.Frame{Snapshot: s}, 10), "slotwatch_pg_connections_refused_total")
	for _, want := range []string{`{sqlstate="53300"} 234`, `{sqlstate="28P01"} 2`, `{sqlstate="3D000"} 0`} {
		if !strings.Contains(got, want) {
			t.Fatalf("series lack %s:\n%s", want, got)
		}
	}

	// Several servers: the primary's name, as the other series carry it.
	s.Servers = []collectors.ServerSnapshot{{Name: "primary", Kind: collectors.SourcePostgres, Primary: true, Postgres: s.Postgres},
		{Name: "replica-1", Kind: collectors.SourcePostgres, Postgres: s.Postgres}}
	got = series(t, exporterWith(analysis.Frame{Snapshot: s}, 10), "slotwatch_pg_connections_refused_total")
	if !strings.Contains(got, `{server="primary",sqlstate="53300"} 234`) || strings.Contains(got, "replica-1") {
		t.Fatalf("fleet series:\n%s", got)
	}

	// Not readable: no counter stuck at zero.
	s.Refused = &collectors.RefusedStats{Why: "role monitor may not read the server log", ProbeFailures5m: 12}
	if n := count(t, exporterWith(analysis.Frame{Snapshot: s}, 10), "slotwatch_pg_connections_refused_total"); n != 0 {
		t.Fatalf("%d refused series while the log is not readable", n)
	}
}
