package spark

import "testing"

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
