package fanout

import (
	"sync"
	"testing"
)

func TestMailboxKeepsNewestAndCountsSkips(t *testing.T) {
	mb := NewMailbox[int]()
	if _, ok := mb.Take(); ok {
		t.Fatal("a new mailbox must be empty")
	}
	mb.Put(1)
	mb.Put(2)
	mb.Put(3)
	v, ok := mb.Take()
	if !ok || v != 3 {
		t.Fatalf("Take = %d, %v; want the newest value 3", v, ok)
	}
	if got := mb.Skipped(); got != 2 {
		t.Fatalf("Skipped = %d, want 2", got)
	}
	if _, ok := mb.Take(); ok {
		t.Fatal("Take must empty the mailbox")
	}
}

// A consumer that never takes must not slow or starve another one: the
// fast consumer sees every value in order, the stalled one only the newest.
func TestHubStalledConsumerSkipsOnlyItsOwn(t *testing.T) {
	h := NewHub[int]()
	stalled := h.Subscribe("stalled viewer")
	recorder := h.Subscribe("recorder")
	const n = 1000
	got := make([]int, 0, n)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for len(got) < n {
			<-recorder.Ready()
			if v, ok := recorder.Take(); ok {
				got = append(got, v)
			}
		}
		close(done)
	})
	for i := 1; i <= n; i++ {
		h.Put(i)
		// Pace the producer on the recorder only, as a fast disk would be.
		for recorder.holding() {
		}
	}
	<-done
	wg.Wait()
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("recorder got %d at %d: it must keep every value while the other consumer stalls", v, i)
		}
	}
	v, ok := stalled.Take()
	if !ok || v != n {
		t.Fatalf("stalled consumer holds %d, %v; want only the newest (%d)", v, ok, n)
	}
	if stalled.Skipped() != n-1 {
		t.Fatalf("stalled consumer skipped %d, want %d", stalled.Skipped(), n-1)
	}
}

func TestHubLateSubscriberStartsWithNewestAndUnsubscribeStops(t *testing.T) {
	h := NewHub[string]()
	h.Put("a")
	h.Put("b")
	mb := h.Subscribe("late")
	if v, ok := mb.Take(); !ok || v != "b" {
		t.Fatalf("late subscriber got %q, %v; want the newest value", v, ok)
	}
	h.Unsubscribe(mb)
	h.Put("c")
	if _, ok := mb.Take(); ok {
		t.Fatal("an unsubscribed mailbox must receive nothing")
	}
	if h.Consumers() != 0 {
		t.Fatalf("Consumers = %d after unsubscribe, want 0", h.Consumers())
	}
}

func (m *Mailbox[T]) holding() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.full
}
