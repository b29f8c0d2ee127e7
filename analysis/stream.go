package analysis

import (
	"context"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/fanout"
)

// FrameMailbox holds only the newest frame for one consumer (a viewer's
// bridge, /metrics): a slow consumer skips frames of its own.
type FrameMailbox = fanout.Mailbox[Frame]

// FrameHub hands every frame of the one pipeline to every consumer.
type FrameHub = fanout.Hub[Frame]

// NewFrameHub returns a hub with no consumer.
func NewFrameHub() *FrameHub { return fanout.NewHub[Frame]() }

// NewFrameMailbox returns a lone, empty frame mailbox (tests, benchmarks).
func NewFrameMailbox() *FrameMailbox { return fanout.NewMailbox[Frame]() }

// Stream is the one analysis goroutine of a collector set: it steps pipe on
// the newest snapshot in `in` and publishes the frame to out, until ctx
// ends. Alerts and findings are evaluated once, so every viewer sees the
// same states and the same "since". It owns pipe: nothing else may step it
// while Stream runs. A snapshot put while a step is running replaces older
// waiting ones (latest wins), so analysis never falls behind collection.
func Stream(ctx context.Context, pipe *Pipeline, in *collectors.Mailbox, out interface{ Put(Frame) }) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.Ready():
		}
		if s, ok := in.Take(); ok {
			out.Put(pipe.Step(s))
		}
	}
}
