package collectors

import (
	"slices"
	"sync"
)

// ownBackends holds the backend pids of slotwatch's other long-lived
// connections to the watched server (the jobs collector's), so that the
// PostgreSQL collector leaves them out as it leaves out its own backend.
// It is shared by the goroutines of one Start or CollectOnce.
type ownBackends struct {
	mu   sync.Mutex
	pids map[string]int32 // by source
}

func newOwnBackends() *ownBackends { return &ownBackends{pids: map[string]int32{}} }

// set records source's backend pid; 0 forgets it (connection closed).
func (o *ownBackends) set(source string, pid uint32) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if pid == 0 {
		delete(o.pids, source)
		return
	}
	o.pids[source] = int32(pid)
}

func (o *ownBackends) list() []int32 {
	if o == nil {
		return []int32{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]int32, 0, len(o.pids))
	for _, pid := range o.pids {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}
