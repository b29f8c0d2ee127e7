package tui

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

type countingStepper struct{ steps int }

func (c *countingStepper) Step(s collectors.Snapshot) analysis.Frame {
	c.steps++
	return analysis.Frame{Snapshot: s}
}

// TestBridgeSkipsToNewest: snapshots put while the UI is busy collapse into
// the newest one; the hook sees what is stepped and its error reaches the UI.
func TestBridgeSkipsToNewest(t *testing.T) {
	mb := collectors.NewMailbox()
	base := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		mb.Put(collectors.Snapshot{TakenAt: base.Add(time.Duration(i) * time.Second)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	msgs := make(chan any, 10)
	var hooked []time.Time
	pipe := &countingStepper{}
	done := make(chan struct{})
	go func() {
		bridge(ctx, mb, pipe, func(s collectors.Snapshot) error {
			hooked = append(hooked, s.TakenAt)
			return errors.New("disk full")
		}, func(m any) { msgs <- m })
		close(done)
	}()
	var frame frameMsg
	var hookErr hookErrMsg
	for frame.frame.Snapshot.TakenAt.IsZero() {
		switch m := (<-msgs).(type) {
		case frameMsg:
			frame = m
		case hookErrMsg:
			hookErr = m
		}
	}
	cancel()
	<-done
	if want := base.Add(4 * time.Second); !frame.frame.Snapshot.TakenAt.Equal(want) || pipe.steps != 1 {
		t.Fatalf("bridge stepped %d snapshots, sent %v; want only the newest %v", pipe.steps, frame.frame.Snapshot.TakenAt, want)
	}
	if len(hooked) != 1 || hookErr.err == nil {
		t.Fatalf("hook saw %d snapshots, error %v", len(hooked), hookErr.err)
	}
	m := newTestModel(t, Options{}, incidentFrame(t), 80, 24)
	m = update(m, hookErr)
	if m.footer.text != "recording failed: disk full" {
		t.Fatalf("footer %q", m.footer.text)
	}
}
