package tui

import (
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/collectors"
)

// TestHeaderShowsRefusedConnections: the server's refusals of the last
// five minutes when its log is readable; when it is not, the header says so
// once, with the fix, and the probe's failures take the count's place.
func TestHeaderShowsRefusedConnections(t *testing.T) {
	f := incidentFrame(t)
	f.Snapshot.Refused = &collectors.RefusedStats{Readable: true, Total: 240, Last5m: 234,
		BySQLState: map[string]int64{"53300": 240}}
	if v := newTestModel(t, Options{}, f, 200, 50).View(); !strings.Contains(v, "│ refused 234/5m │") {
		t.Errorf("header lacks refused 234/5m:\n%s", v)
	}

	fix := "GRANT EXECUTE ON FUNCTION pg_current_logfile(text), pg_read_binary_file(text, bigint, bigint, boolean) TO monitor"
	f.Snapshot.Refused = &collectors.RefusedStats{Why: "role monitor may not read the server log: " + fix, Fix: fix, ProbeFailures5m: 12}
	v := newTestModel(t, Options{}, f, 300, 50).View()
	want := "refused: log not readable (" + fix + "); probe failures 12/5m"
	if !strings.Contains(v, want) || strings.Count(v, "log not readable") != 1 || strings.Contains(v, "refused 0/5m") {
		t.Errorf("header should say once %q and show no count of its own:\n%s", want, v)
	}

	f.Snapshot.Refused = nil
	if v := newTestModel(t, Options{}, f, 200, 50).View(); strings.Contains(v, "/5m") || strings.Contains(v, "log not readable") {
		t.Errorf("without the log watched, the header has no refused part:\n%s", v)
	}
}
