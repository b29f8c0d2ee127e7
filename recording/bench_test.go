package recording

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite measures the cost and the size of recording the incident at
// its peak (95 sessions, 192 Redis clients per snapshot). bytes/snapshot and
// MB/hour@1s are what the README quotes; the gz variant is the ".gz" name.
func BenchmarkWrite(b *testing.B) {
	for _, name := range []string{"run.jsonl", "run.jsonl.gz"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), name)
			w, err := Create(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.Write(incidentSnapshot(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			per := float64(st.Size()) / float64(b.N)
			b.ReportMetric(per, "bytes/snapshot")
			b.ReportMetric(per*3600/1e6, "MB/hour@1s")
		})
	}
}

// BenchmarkReadFile measures reading back 300 snapshots (5 minutes at 1 s).
func BenchmarkReadFile(b *testing.B) {
	for _, name := range []string{"run.jsonl", "run.jsonl.gz"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), name)
			w, err := Create(path)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 300; i++ {
				if err := w.Write(incidentSnapshot(i)); err != nil {
					b.Fatal(err)
				}
			}
			w.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				snaps, bad, err := ReadFile(path)
				if err != nil || len(bad) != 0 || len(snaps) != 300 {
					b.Fatalf("read %d, bad %v, err %v", len(snaps), bad, err)
				}
			}
		})
	}
}
