package demo

import (
	"math/rand/v2"
	"time"
)

// source gives the simulation its variety. Values drawn while building the
// world come from a seeded PCG stream; values that depend on the time of a
// sample (probe latency, a pooled client's last command) come from a hash of
// the seed and that time, so a snapshot does not depend on how many
// snapshots were taken before it.
type source struct {
	seed uint64
	r    *rand.Rand
}

func newSource(seed int64) *source {
	return &source{seed: uint64(seed), r: rand.New(rand.NewPCG(uint64(seed), 0x7a1e47f10))}
}

// intn is uniform in [lo, hi].
func (s *source) intn(lo, hi int) int { return lo + s.r.IntN(hi-lo+1) }

// duration is uniform in [lo, hi], whole milliseconds.
func (s *source) duration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.r.Int64N(int64((hi-lo)/time.Millisecond)+1))*time.Millisecond
}

func (s *source) pick(items []string) string { return items[s.r.IntN(len(items))] }

// at hashes the seed with keys (splitmix64) into a value in [0, n).
func (s *source) at(n uint64, keys ...uint64) uint64 {
	x := s.seed
	for _, k := range keys {
		x = mix(x ^ k)
	}
	return x % n
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
