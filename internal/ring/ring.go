// Package ring is the bounded history buffer: pushing into a full ring
// drops the oldest value, so memory stays bounded however long the console
// runs.
package ring

// Ring is a fixed-capacity ring buffer: pushing into a full ring drops the
// oldest value, so memory stays bounded however long the console runs.
type Ring[T any] struct {
	buf   []T
	start int
	n     int
}

// New returns an empty ring holding at most capacity values (at least 1).
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		capacity = 1
	}
	return &Ring[T]{buf: make([]T, capacity)}
}

// Push appends v, dropping the oldest value when full.
func (r *Ring[T]) Push(v T) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = v
		r.n++
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

// Len is the number of values held.
func (r *Ring[T]) Len() int { return r.n }

// At returns the i-th value, 0 being the oldest.
func (r *Ring[T]) At(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

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
