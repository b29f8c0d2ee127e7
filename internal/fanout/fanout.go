// Package fanout moves values from one producer to many consumers without
// ever making the producer wait: each consumer has its own latest-wins
// mailbox, so a slow consumer (a terminal over a stalled SSH link, a slow
// disk) skips values of its own while the producer and every other consumer
// go on. Collectors publish snapshots through a Hub[collectors.Snapshot];
// the one analysis pipeline publishes frames through a Hub[analysis.Frame].
package fanout

import (
	"slices"
	"sync"
)

// Mailbox holds only the newest value put into it.
type Mailbox[T any] struct {
	mu      sync.Mutex
	latest  T
	full    bool
	skipped uint64
	notify  chan struct{}
	name    string
}

// NewMailbox returns an empty mailbox.
func NewMailbox[T any]() *Mailbox[T] { return &Mailbox[T]{notify: make(chan struct{}, 1)} }

// Put replaces the held value and never blocks.
func (m *Mailbox[T]) Put(v T) {
	m.mu.Lock()
	if m.full {
		m.skipped++
	}
	m.latest, m.full = v, true
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Ready is signalled after a Put; several Puts may share one signal.
func (m *Mailbox[T]) Ready() <-chan struct{} { return m.notify }

// Take returns the held value and empties the mailbox.
func (m *Mailbox[T]) Take() (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.latest, m.full
	var zero T
	m.latest, m.full = zero, false
	return v, ok
}

// Skipped is how many values were replaced before this consumer took them.
func (m *Mailbox[T]) Skipped() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.skipped
}

// Name is the consumer's name given to Subscribe ("" for a lone mailbox).
func (m *Mailbox[T]) Name() string { return m.name }

// Hub hands every value to every subscribed consumer's mailbox. Put costs
// one mailbox write per consumer and never waits for any of them.
type Hub[T any] struct {
	mu   sync.Mutex
	subs []*Mailbox[T]
	last T
	any  bool
}

// NewHub returns a hub with no consumer.
func NewHub[T any]() *Hub[T] { return &Hub[T]{} }

// Put publishes v to every consumer and remembers it for late subscribers.
func (h *Hub[T]) Put(v T) {
	h.mu.Lock()
	h.last, h.any = v, true
	subs := h.subs
	h.mu.Unlock()
	for _, mb := range subs {
		mb.Put(v)
	}
}

// Subscribe adds a consumer. A consumer that joins after the first Put
// starts with the newest value, so a viewer connecting mid-incident sees the
// screen at once instead of after the next sample.
func (h *Hub[T]) Subscribe(name string) *Mailbox[T] {
	mb := NewMailbox[T]()
	mb.name = name
	h.mu.Lock()
	// A new slice each time: Put iterates a snapshot of the list unlocked.
	h.subs = append(slices.Clip(h.subs), mb)
	last, ok := h.last, h.any
	h.mu.Unlock()
	if ok {
		mb.Put(last)
	}
	return mb
}

// Unsubscribe removes a consumer; its mailbox receives nothing more.
func (h *Hub[T]) Unsubscribe(mb *Mailbox[T]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs = slices.DeleteFunc(slices.Clone(h.subs), func(m *Mailbox[T]) bool { return m == mb })
}

// Consumers is how many mailboxes are subscribed.
func (h *Hub[T]) Consumers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
