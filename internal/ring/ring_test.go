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
