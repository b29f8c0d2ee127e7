package tui

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

var bridgeBase = time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)

// TestBridgeSendsNewestFrameAndRecordingErrors: frames put while the UI is
// busy collapse into the newest one; a recorder's error reaches the footer.
func TestBridgeSendsNewestFrameAndRecordingErrors(t *testing.T) {
	feed := analysis.NewFrameMailbox()
	for i := range 5 {
		feed.Put(analysis.Frame{Snapshot: collectors.Snapshot{TakenAt: bridgeBase.Add(time.Duration(i) * time.Second)}})
	}
	recErrs := make(chan error, 1)
	recErrs <- errors.New("disk full")
	ctx, cancel := context.WithCancel(context.Background())
	msgs := make(chan tea.Msg, 10)
	done := make(chan struct{})
	go func() {
		Bridge(ctx, feed, recErrs, func(m tea.Msg) { msgs <- m })
		close(done)
	}()
	var frames []frameMsg
	var hookErr hookErrMsg
	for len(frames) == 0 || hookErr.err == nil {
		switch m := (<-msgs).(type) {
		case frameMsg:
			frames = append(frames, m)
		case hookErrMsg:
			hookErr = m
		}
	}
	cancel()
	<-done
	if want := bridgeBase.Add(4 * time.Second); len(frames) != 1 || !frames[0].frame.Snapshot.TakenAt.Equal(want) {
		t.Fatalf("bridge sent %d frames, first %v; want only the newest %v", len(frames), frames[0].frame.Snapshot.TakenAt, want)
	}
	if feed.Skipped() != 4 {
		t.Fatalf("mailbox skipped %d frames, want 4", feed.Skipped())
	}
	m := newTestModel(t, Options{}, incidentFrame(t), 80, 24)
	m = update(m, hookErr)
	if m.footer.text != "recording failed: disk full" {
		t.Fatalf("footer %q", m.footer.text)
	}
}

// TestStalledViewerDelaysNobody runs the whole fan-out of contract C1 —
// snapshots → hub → {recorder, analysis} → one pipeline → frame hub → two
// viewers' bridges — with one viewer whose terminal never accepts a frame
// (its Send blocks for good). The producer waits, for every snapshot, until
// the recorder has written it and the other viewer shows its frame: if the
// stalled viewer held anyone up, the test would hang instead of passing.
func TestStalledViewerDelaysNobody(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := collectors.NewHub()
	recorderMB := snaps.Subscribe("recorder")
	frames := analysis.NewFrameHub()
	var wg sync.WaitGroup
	wg.Go(func() {
		analysis.Stream(ctx, analysis.NewPipeline(analysis.DefaultRules()), snaps.Subscribe("analysis"), frames)
	})

	stalledFeed := frames.Subscribe("stalled viewer")
	unblock := make(chan struct{})
	var stalledSends atomic.Int32
	wg.Go(func() {
		Bridge(ctx, stalledFeed, nil, func(tea.Msg) {
			stalledSends.Add(1)
			<-unblock // a terminal whose writes never return
		})
	})
	shown := make(chan time.Time)
	wg.Go(func() {
		Bridge(ctx, frames.Subscribe("live viewer"), nil, func(m tea.Msg) {
			if f, ok := m.(frameMsg); ok {
				shown <- f.frame.Snapshot.TakenAt
			}
		})
	})
	recorded := make(chan time.Time)
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-recorderMB.Ready():
			}
			if s, ok := recorderMB.Take(); ok {
				recorded <- s.TakenAt
			}
		}
	})

	const n = 300
	for i := range n {
		at := bridgeBase.Add(time.Duration(i) * time.Second)
		snaps.Put(collectors.Snapshot{TakenAt: at, Errors: map[string]string{}})
		if got := <-recorded; !got.Equal(at) {
			t.Fatalf("snapshot %d: the recorder got %v, want %v: it must keep every snapshot", i, got, at)
		}
		if got := <-shown; !got.Equal(at) {
			t.Fatalf("snapshot %d: the live viewer showed %v, want %v", i, got, at)
		}
	}
	if skipped := stalledFeed.Skipped(); skipped < n-3 {
		t.Fatalf("the stalled viewer's mailbox skipped %d frames; it should skip all but the few it held (%d)", skipped, n)
	}
	if n := stalledSends.Load(); n != 1 {
		t.Fatalf("the stalled viewer's bridge sent %d frames, want exactly the one it is stuck on", n)
	}
	cancel()
	close(unblock)
	wg.Wait()
}
