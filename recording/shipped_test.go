package recording

import (
	"testing"
)

// TestShippedDrillRecording reads the recording of a drill run that ships in
// testdata/recordings (replay and the README's report use it): every line
// is readable, in time order, and it shows the drill's incident.
func TestShippedDrillRecording(t *testing.T) {
	snaps, bad, err := ReadFile("../testdata/recordings/drill.jsonl.gz")
	if err != nil || len(bad) != 0 {
		t.Fatalf("bad lines %v, err %v", bad, err)
	}
	if len(snaps) < 60 {
		t.Fatalf("only %d snapshots", len(snaps))
	}
	var idle, leaked, over, refused bool
	for i, s := range snaps {
		if i > 0 && !s.TakenAt.After(snaps[i-1].TakenAt) {
			t.Fatalf("snapshot %d at %v is not after %v", i, s.TakenAt, snaps[i-1].TakenAt)
		}
		if pg := s.Postgres; pg != nil {
			for _, g := range pg.Groups {
				idle = idle || g.ApplicationName == "talentflow-web" && g.ByState["idle"] >= 20
			}
		}
		if r := s.Redis; r != nil {
			for _, g := range r.Groups {
				leaked = leaked || g.Name == "analytics-cache-#" && g.Count >= 100
			}
		}
		over = over || s.Jobs != nil && len(s.Jobs.OverCapacity) > 0
		refused = refused || s.Probe != nil && s.Probe.SQLState == "53300"
	}
	if !idle || !leaked || !over || !refused {
		t.Fatalf("the shipped recording lacks part of the incident: idle group %v, Redis leak %v, over capacity %v, probe refused %v",
			idle, leaked, over, refused)
	}
}
