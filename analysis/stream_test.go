package analysis

import (
	"context"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

type frameSink chan Frame

func (c frameSink) Put(f Frame) { c <- f }

// TestStreamStepsNewestSnapshotOnce: snapshots that pile up while the
// pipeline is busy collapse into the newest; each frame carries the alert
// state evaluated once, and Stream returns when ctx ends.
func TestStreamStepsNewestSnapshotOnce(t *testing.T) {
	in := collectors.NewMailbox()
	base := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	for i := range 3 {
		in.Put(collectors.Snapshot{TakenAt: base.Add(time.Duration(i) * time.Second), Errors: map[string]string{}})
	}
	out := make(frameSink, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Stream(ctx, NewPipeline(DefaultRules()), in, out); close(done) }()
	f := <-out
	if want := base.Add(2 * time.Second); !f.Snapshot.TakenAt.Equal(want) || len(f.Alerts) != len(NewPipeline(DefaultRules()).Rules()) {
		t.Fatalf("frame at %v with %d alerts; want the newest snapshot %v with every rule evaluated", f.Snapshot.TakenAt, len(f.Alerts), want)
	}
	in.Put(collectors.Snapshot{TakenAt: base.Add(3 * time.Second), Errors: map[string]string{}})
	if f := <-out; !f.Snapshot.TakenAt.Equal(base.Add(3 * time.Second)) {
		t.Fatalf("second frame at %v", f.Snapshot.TakenAt)
	}
	cancel()
	<-done
	if len(out) != 0 {
		t.Fatalf("%d unexpected frames", len(out))
	}
}
