package serve

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	tea "github.com/charmbracelet/bubbletea"
)

// roster is every connected session. Presence is read from every View, so
// the label list is rebuilt on join and leave and read lock-free.
type roster struct {
	mu       sync.Mutex
	sessions map[*sshSession]struct{}
	labels   atomic.Pointer[[]string]
}

func newRoster() *roster {
	r := &roster{sessions: map[*sshSession]struct{}{}}
	r.labels.Store(&[]string{})
	return r
}

func (r *roster) join(s *sshSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[s] = struct{}{}
	r.rebuild()
}

func (r *roster) leave(s *sshSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sessions, s)
	r.rebuild()
}

// rebuild lists operators first, then viewers, each by name.
func (r *roster) rebuild() {
	ids := make([]Identity, 0, len(r.sessions))
	for s := range r.sessions {
		ids = append(ids, s.id)
	}
	slices.SortFunc(ids, func(a, b Identity) int {
		if a.Operator != b.Operator {
			if a.Operator {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	labels := make([]string, len(ids))
	for i, id := range ids {
		labels[i] = id.Label()
	}
	r.labels.Store(&labels)
}

// presence is tui.Options.Presence: cheap and safe for concurrent use.
func (r *roster) presence() []string { return *r.labels.Load() }

// count is how many sessions are connected.
func (r *roster) count() int { return len(*r.labels.Load()) }

// each calls fn for every session; fn must not block.
func (r *roster) each(fn func(*sshSession)) {
	r.mu.Lock()
	list := make([]*sshSession, 0, len(r.sessions))
	for s := range r.sessions {
		list = append(list, s)
	}
	r.mu.Unlock()
	for _, s := range list {
		fn(s)
	}
}

// outbox carries what other sessions cause to one session's program:
// announcements (queued, a few kept) and "the audit log changed" (a
// signal: the session reads the newest entries itself). Posting never
// blocks; the session's own goroutine does the Send, so a stalled terminal
// delays nobody else.
type outbox struct {
	announce chan tea.Msg
	audit    chan struct{}
}

// announceQueue bounds the announcements waiting for a stalled session;
// beyond it the oldest are dropped (the audit pane still lists them all).
const announceQueue = 16

func newOutbox() *outbox {
	return &outbox{announce: make(chan tea.Msg, announceQueue), audit: make(chan struct{}, 1)}
}

func (o *outbox) postAnnouncement(msg tea.Msg) {
	for {
		select {
		case o.announce <- msg:
			return
		default:
		}
		select { // full: drop the oldest and retry
		case <-o.announce:
		default:
		}
	}
}

func (o *outbox) postAuditChanged() {
	select {
	case o.audit <- struct{}{}:
	default:
	}
}
