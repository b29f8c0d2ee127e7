// Package ring is the bounded history buffer: pushing into a full ring
// drops the oldest value, so memory stays bounded however long the console
// runs.
package ring

// Ring is a fixed-capacity ring buffer: pushing into a full ring drops the
// oldest value, so memory stays bounded however long the console runs. It
// grows to its capacity as values arrive, so a one-shot pipeline (snapshot
// --json) or a short session does not pay for a full hour up front.
type Ring[T any] struct {
	buf      []T
	start    int
	n        int
	capacity int
}

// New returns an empty ring holding at most capacity values (at least 1).
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		capacity = 1
	}
	return &Ring[T]{capacity: capacity}
}

// Push appends v, dropping the oldest value when full.
func (r *Ring[T]) Push(v T) {
	if r.n < r.capacity {
		if r.n == cap(r.buf) { // not full and nothing dropped yet: start is 0
			grown := make([]T, r.n, min(max(2*r.n, 16), r.capacity))
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = append(r.buf, v)
		r.n++
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

// Cap is the most values the ring holds.
func (r *Ring[T]) Cap() int { return r.capacity }

// Grow raises the capacity to n, keeping the values in order.
func (r *Ring[T]) Grow(n int) {
	if n <= r.capacity {
		return
	}
	r.buf, r.start, r.capacity = append(make([]T, 0, min(2*r.n, n)), r.Tail(-1)...), 0, n
}

// Len is the number of values held.
func (r *Ring[T]) Len() int { return r.n }

// At returns the i-th value, 0 being the oldest.
func (r *Ring[T]) At(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

// Ref is the i-th value in place, for reading without a copy.
func (r *Ring[T]) Ref(i int) *T { return &r.buf[(r.start+i)%len(r.buf)] }

// Last returns the newest value.
func (r *Ring[T]) Last() (T, bool) {
	if r.n == 0 {
		var zero T
		return zero, false
	}
	return r.At(r.n - 1), true
}

// Tail copies the newest n values (or all, if fewer), oldest first.
func (r *Ring[T]) Tail(n int) []T {
	if n > r.n || n < 0 {
		n = r.n
	}
	out := make([]T, n)
	for i := range out {
		out[i] = r.At(r.n - n + i)
	}
	return out
}
