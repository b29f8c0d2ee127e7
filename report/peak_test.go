package report

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/recording"
)

// The evidence under a finding is the evidence at the recording's worst
// moment for it, found here straight from the snapshots: the first
// snapshot with the most PostgreSQL slots used (of those, the most Redis
// clients), and the first with the most Redis clients.
func TestEvidenceAtWorstMoment(t *testing.T) {
	rec := filepath.Join("..", "testdata", "recordings", "drill.jsonl.gz")
	audit, err := actions.ReadAuditLog(filepath.Join("..", "testdata", "recordings", "drill-audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var pgAt, redisAt time.Time
	var pgUsed, usable int
	var clients, clientsAtPG int64
	if _, err := recording.ScanFile(rec, func(_ int, s collectors.Snapshot) error {
		var rc int64
		if r := s.Redis; r != nil && s.Errors[collectors.SourceRedis] == "" {
			rc = r.ConnectedClients
		}
		if p := s.Postgres; p != nil && s.Errors[collectors.SourcePostgres] == "" &&
			(p.Used() > pgUsed || p.Used() == pgUsed && rc > clientsAtPG) {
			pgUsed, usable, pgAt, clientsAtPG = p.Used(), p.Usable(), s.TakenAt, rc
		}
		if rc > clients {
			clients, redisAt = rc, s.TakenAt
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := FromFile(&out, rec, audit, Options{}); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	cases := []struct{ heading, at, evidence string }{
		{"Persistent connections", clock(pgAt), fmt.Sprintf("severity critical: %d of %d usable slots used", pgUsed, usable)},
		{"Connections refused", clock(pgAt), fmt.Sprintf("%d of 40 max_connections used by clients", pgUsed)},
		{"Redis client leak", clock(redisAt), fmt.Sprintf("of %d connected clients come from", clients)},
	}
	for _, c := range cases {
		section := findingSection(md, c.heading)
		if section == "" {
			t.Fatalf("no finding %q in the report:\n%s", c.heading, md)
		}
		if !strings.Contains(section, "Evidence at the peak, "+c.at+":") || !strings.Contains(section, c.evidence) {
			t.Errorf("finding %q: want evidence at %s with %q, got:\n%s", c.heading, c.at, c.evidence, section)
		}
	}
}

// findingSection is the text of the first finding whose heading contains
// title, up to the next heading.
func findingSection(md, title string) string {
	for _, part := range strings.Split(md, "\n### ") {
		head, _, _ := strings.Cut(part, "\n")
		if strings.Contains(strings.ToLower(head), strings.ToLower(title)) {
			part, _, _ = strings.Cut(part, "\n## ")
			return part
		}
	}
	return ""
}
