package ring

import "testing"

func TestRingDropsOldestWhenFull(t *testing.T) {
	r := New[int](3)
	for i := 1; i <= 5; i++ {
		r.Push(i)
	}
	got := r.Tail(-1)
	want := []int{3, 4, 5}
	if len(got) != len(want) {
		t.Fatalf("Tail = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Tail = %v, want %v", got, want)
		}
	}
	if last, _ := r.Last(); last != 5 {
		t.Fatalf("Last = %d, want 5", last)
	}
	if tail := r.Tail(2); tail[0] != 4 || tail[1] != 5 {
		t.Fatalf("Tail(2) = %v, want [4 5]", tail)
	}
}

// TestRingGrowsToItsCapacity: a ring allocates as values come, keeps the
// newest capacity values in order, and never grows past its capacity.
func TestRingGrowsToItsCapacity(t *testing.T) {
	r := New[int](100)
	for i := range 250 {
		r.Push(i)
		if r.Len() != min(i+1, 100) {
			t.Fatalf("after %d pushes Len = %d", i+1, r.Len())
		}
	}
	if cap(r.buf) != 100 {
		t.Fatalf("ring grew to %d, capacity 100", cap(r.buf))
	}
	for i := range 100 {
		if r.At(i) != 150+i {
			t.Fatalf("At(%d) = %d, want %d", i, r.At(i), 150+i)
		}
	}
}

// TestRingGrowKeepsOrder: a full ring that grows keeps its values oldest
// first and takes new ones without dropping until the new capacity.
func TestRingGrowKeepsOrder(t *testing.T) {
	r := New[int](4)
	for i := range 6 {
		r.Push(i)
	}
	r.Grow(8)
	for i := 6; i < 10; i++ {
		r.Push(i)
	}
	if r.Len() != 8 || r.Cap() != 8 || r.At(0) != 2 || r.At(7) != 9 || *r.Ref(3) != 5 {
		t.Fatalf("after Grow: %v (cap %d)", r.Tail(-1), r.Cap())
	}
}
