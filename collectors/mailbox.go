package collectors

import "sync"

// Mailbox holds only the newest snapshot: a slow reader (the UI over SSH)
// skips intermediate snapshots instead of making collectors wait.
type Mailbox struct {
	mu     sync.Mutex
	latest Snapshot
	full   bool
	notify chan struct{}
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox { return &Mailbox{notify: make(chan struct{}, 1)} }

// Put replaces the held snapshot and never blocks.
func (m *Mailbox) Put(s Snapshot) {
	m.mu.Lock()
	m.latest, m.full = s, true
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Ready is signalled after a Put; several Puts may share one signal.
func (m *Mailbox) Ready() <-chan struct{} { return m.notify }

// Take returns the held snapshot and empties the mailbox.
func (m *Mailbox) Take() (Snapshot, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.latest, m.full
	m.latest, m.full = Snapshot{}, false
	return s, ok
}
