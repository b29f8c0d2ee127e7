package tui

import (
	"context"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// Stepper turns a snapshot into a frame; *analysis.Pipeline is one. It is
// not safe for concurrent use, so only the bridge goroutine calls it.
type Stepper interface {
	Step(s collectors.Snapshot) analysis.Frame
}

// bridge moves snapshots from the mailbox to the program: it waits for the
// mailbox, takes the newest snapshot (skipping any the UI was too slow for),
// lets the hook record it, evaluates the pipeline and sends the frame. It
// returns when ctx ends.
func bridge(ctx context.Context, mb *collectors.Mailbox, pipe Stepper, hook func(collectors.Snapshot) error, send func(any)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-mb.Ready():
		}
		s, ok := mb.Take()
		if !ok {
			continue
		}
		if hook != nil {
			if err := hook(s); err != nil {
				send(hookErrMsg{err: err})
			}
		}
		send(frameMsg{frame: pipe.Step(s)})
	}
}
