package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/recording"
)

// liveFeed is the data path of contract C1 for one collector set:
// collectors (or the demo) put snapshots into snaps; one analysis goroutine
// steps the pipeline on its own mailbox of snaps and publishes frames to
// frames; each dashboard and the recorder subscribe their own latest-wins
// mailbox, so none of them can hold up collection or each other.
type liveFeed struct {
	snaps  *collectors.Hub
	frames *analysis.FrameHub
}

// newLiveFeed starts the one analysis goroutine; it owns pipe from now on
// and stops with ctx.
func newLiveFeed(ctx context.Context, pipe *analysis.Pipeline) *liveFeed {
	f := &liveFeed{snaps: collectors.NewHub(), frames: analysis.NewFrameHub()}
	go analysis.Stream(ctx, pipe, f.snaps.Subscribe("analysis"), f.frames)
	return f
}

// startRecorder writes about one snapshot per interval from its own
// mailbox on snaps, in its own goroutine: a slow disk skips snapshots of the
// recording only and never delays a frame. The first write error ends the
// recording and is sent on errs (buffered). stop ends the recorder and
// waits for it, so the writer can be closed safely afterwards.
func startRecorder(ctx context.Context, snaps *collectors.Hub, every time.Duration,
	write func(collectors.Snapshot) error) (errs <-chan error, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	mb := snaps.Subscribe("recorder")
	ch := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer snaps.Unsubscribe(mb)
		if err := recordSnapshots(ctx, mb, every, write); err != nil {
			ch <- err
		}
	})
	return ch, func() { cancel(); wg.Wait() }
}

// recordSnapshots writes the snapshots taken from mb, about one per
// interval (throttledHook), until ctx ends or a write fails.
func recordSnapshots(ctx context.Context, mb *collectors.Mailbox, every time.Duration, write func(collectors.Snapshot) error) error {
	hook := throttledHook(every, write)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-mb.Ready():
		}
		if s, ok := mb.Take(); ok {
			if err := hook(s); err != nil {
				return err
			}
		}
	}
}

// openRecording creates the recording at path and starts its recorder on
// snaps (watch --record, serve --record). closeAll stops the recorder, then
// closes the file and prints the summary line; ok is false (the error
// already printed) when the file cannot be created.
func openRecording(ctx context.Context, env *environment, path string, snaps *collectors.Hub,
	every time.Duration) (errs <-chan error, closeAll func(), ok bool) {
	w, err := recording.Create(path)
	if err != nil {
		errorSentence(env, err)
		return nil, nil, false
	}
	errs, stop := startRecorder(ctx, snaps, every, w.Write)
	return errs, func() {
		stop() // before the writer closes
		if err := w.Close(); err != nil {
			errorSentence(env, err)
		}
		fmt.Fprintf(env.stderr, "slotwatch: wrote %d snapshots to %s\n", w.Count(), w.Path())
	}, true
}
