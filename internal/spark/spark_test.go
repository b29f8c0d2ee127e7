package spark

import (
	"math"
	"testing"
)

func TestLineScalesFromZero(t *testing.T) {
	if got := Line([]float64{71, 72}, 10, 0); got != "██" {
		t.Errorf("71 → 72 on a zero scale: got %q, want two full bars", got)
	}
	if got := Line([]float64{0, 50, 100}, 10, 200); got != "▁▃▅" {
		t.Errorf("scaled to a ceiling of 200: got %q", got)
	}
	if got := Line([]float64{1, 2, 3, 4}, 2, 4); got != "▆█" {
		t.Errorf("newest two values: got %q", got)
	}
}

func TestBucketMaxKeepsSpikes(t *testing.T) {
	values := make([]float64, 1000)
	values[537] = 100
	got := BucketMax(values, 10)
	if len(got) != 10 || got[5] != 100 {
		t.Fatalf("spike lost: %v", got)
	}
}

// seconds is a series of n one-second samples starting at x = 0.
func seconds(n int) (xs, ys []float64) {
	xs, ys = make([]float64, n), make([]float64, n)
	for i := range xs {
		xs[i], ys[i] = float64(i), 10
	}
	return xs, ys
}

func TestDownsampleKeepsAOneSampleSpike(t *testing.T) {
	xs, ys := seconds(4 * 3600) // four hours at 1 s
	ys[9001] = 100
	gx, gy := Downsample(xs, ys, 0, xs[len(xs)-1], 500)
	if len(gx) != 500 {
		t.Fatalf("got %d points, want 500 (one per bucket)", len(gx))
	}
	found := false
	for i := range gx {
		if gy[i] == 100 {
			found = gx[i] == 9001
		} else if gy[i] != 10 {
			t.Fatalf("point %d is %v, want 10 or the spike", i, gy[i])
		}
	}
	if !found {
		t.Fatal("the one-second spike to 100 was averaged away, or moved off its time")
	}
}

func TestDownsampleKeepsGapsAsGaps(t *testing.T) {
	xs, ys := seconds(7200)
	for i := 3000; i < 3003; i++ { // a 3-second outage
		ys[i] = math.NaN()
	}
	ys[3003] = 55 // a peak right after it, in the same bucket
	gx, gy := Downsample(xs, ys, 0, 7199, 100)
	var gaps []float64
	peak := false
	for i := range gx {
		switch {
		case math.IsNaN(gy[i]):
			gaps = append(gaps, gx[i])
		case gy[i] == 55:
			peak = true
		}
	}
	if len(gaps) != 1 || gaps[0] != 3000 {
		t.Fatalf("gaps at %v, want one at 3000", gaps)
	}
	if !peak {
		t.Fatal("the peak sharing a bucket with the outage was lost")
	}
	for i := 1; i < len(gx); i++ {
		if gx[i] <= gx[i-1] {
			t.Fatalf("x not ascending at %d: %v after %v", i, gx[i], gx[i-1])
		}
	}
}

func TestDownsampleLeavesShortSeries(t *testing.T) {
	xs, ys := seconds(50)
	gx, _ := Downsample(xs, ys, 0, 49, 100)
	if len(gx) != 50 {
		t.Fatalf("a series shorter than the width was changed: %d points", len(gx))
	}
}

// A missing sample beside a spike does not blank the bucket; a bucket with
// no sample at all is a gap, not zero.
func TestBucketMaxMissingSamples(t *testing.T) {
	nan := math.NaN()
	got := BucketMax([]float64{nan, 90, 3, 4, nan, nan, 5, nan}, 4)
	if len(got) != 4 || got[0] != 90 || got[1] != 4 || !math.IsNaN(got[2]) || got[3] != 5 {
		t.Errorf("buckets %v, want [90 4 NaN 5]", got)
	}
	if line := Line(got, 4, 0); line != "█▁ ▁" {
		t.Errorf("drawn %q, want the spike, a low bar, a gap, a low bar", line)
	}
}
