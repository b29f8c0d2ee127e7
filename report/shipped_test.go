package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/slotwatch/slotwatch/actions"
)

// The recording of a drill run and the report made from it ship in
// testdata/recordings; the README shows the report. This test keeps the
// shipped report identical to what `slotwatch report` makes of the shipped
// recording today:
//
//	slotwatch report testdata/recordings/drill.jsonl.gz --audit testdata/recordings/drill-audit.jsonl --out testdata/recordings/drill-report.md
//
// (go test ./report -run Shipped -update rewrites it after a deliberate change).
func TestShippedDrillReport(t *testing.T) {
	const (
		rec    = "testdata/recordings/drill.jsonl.gz"
		audit  = "testdata/recordings/drill-audit.jsonl"
		report = "testdata/recordings/drill-report.md"
	)
	root := filepath.Join("..")
	entries, err := actions.ReadAuditLog(filepath.Join(root, audit))
	if err != nil || len(entries) == 0 {
		t.Fatalf("shipped audit log: %d entries, %v", len(entries), err)
	}
	var got bytes.Buffer
	bad, err := FromFile(&got, filepath.Join(root, rec), entries, Options{Recording: rec, AuditSource: audit})
	if err != nil || len(bad) != 0 {
		t.Fatalf("shipped recording: bad lines %v, err %v", bad, err)
	}
	path := filepath.Join(root, report)
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("%s is not what `slotwatch report` makes of %s today; regenerate it (go test ./report -run Shipped -update):\n%s", report, rec, got.String())
	}
}
