package report

import (
	"io"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// BenchmarkReportHour replays one hour at 1 s (3,600 snapshots of the
// 40-slot fixture incident, cycled) through the pipeline and writes the
// report: the cost of `slotwatch report` on an hour-long recording, decoding
// aside.
func BenchmarkReportHour(b *testing.B) {
	timeline := fixtureTimeline()
	snaps := make([]collectors.Snapshot, 3600)
	for i := range snaps {
		s := timeline[i%len(timeline)]
		s.TakenAt = t0.Add(time.Duration(i) * time.Second)
		snaps[i] = s
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl := NewBuilder(nil)
		for _, s := range snaps {
			bl.Add(s)
		}
		if err := bl.Write(io.Discard, Options{Recording: "hour.jsonl"}); err != nil {
			b.Fatal(err)
		}
	}
}
