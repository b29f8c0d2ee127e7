package collectors

import "github.com/slotwatch/slotwatch/internal/fanout"

// Sink receives every merged snapshot a collector set publishes. Put must
// never block: collectors call it after every sample.
type Sink interface{ Put(Snapshot) }

// Mailbox holds only the newest snapshot: a slow reader (the UI over SSH)
// skips intermediate snapshots instead of making collectors wait.
type Mailbox = fanout.Mailbox[Snapshot]

// Hub fans snapshots out to many consumers (each viewer's analysis feed, the
// recorder, /metrics), each with its own latest-wins Mailbox.
type Hub = fanout.Hub[Snapshot]

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox { return fanout.NewMailbox[Snapshot]() }

// NewHub returns a hub with no consumer.
func NewHub() *Hub { return fanout.NewHub[Snapshot]() }
