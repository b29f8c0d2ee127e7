package tui

import (
	"github.com/slotwatch/slotwatch/internal/spark"
	"testing"
	"unicode/utf8"
)

// TestDurIsCoarseWherePrecisionStopsMattering: seconds while they matter,
// whole minutes past ten minutes, hours with minutes.
func TestDurIsCoarseWherePrecisionStopsMattering(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{0, "-"}, {8.24, "8.2s"}, {45.9, "45s"}, {9*60 + 58, "9m58s"}, {10 * 60, "10m"}, {26*60 + 58, "26m"},
		{2*3600 + 5*60 + 59, "2h05m"}, {50 * 3600, "2d02h"}} {
		if got := dur(c.s); got != c.want {
			t.Errorf("dur(%v) = %q, want %q", c.s, got, c.want)
		}
	}
	// Past ten minutes a second's tick changes nothing on screen.
	if dur(26*60+58) != dur(26*60+59) {
		t.Errorf("26m58s and 26m59s should render alike")
	}
}

func barLevel(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for _, r := range s {
		i := -1
		for j, b := range spark.Bars() {
			if b == r {
				i = j
			}
		}
		if i < 0 {
			t.Fatalf("%q is not a bar", r)
		}
		out = append(out, i)
	}
	return out
}

// TestSparklineScalesFromZero: 71 → 72 clients is not ▁ → █, a climb from
// 40 to 77 still shows, zero is the lowest bar, and the ceiling (maxclients)
// sets the top.
func TestSparklineScalesFromZero(t *testing.T) {
	l := barLevel(t, sparkline([]float64{71, 71, 72, 72}, 4))
	if l[3]-l[0] > 1 || l[0] < 6 {
		t.Errorf("71→72 draws levels %v; want two nearly full bars", l)
	}
	l = barLevel(t, sparklineTo([]float64{71, 72}, 2, 200))
	if l[1]-l[0] > 1 || l[1] > 3 {
		t.Errorf("71→72 of 200 draws levels %v; want low bars one level apart at most", l)
	}
	l = barLevel(t, sparkline([]float64{40, 58, 77}, 3))
	if !(l[0] < l[1] && l[1] < l[2]) {
		t.Errorf("a climb 40→77 draws levels %v; want it rising", l)
	}
	if got := sparkline([]float64{0, 0}, 2); got != "▁▁" {
		t.Errorf("zeros draw %q, want the lowest bars", got)
	}
	if got := sparkline([]float64{1, 2, 3, 4, 5}, 3); utf8.RuneCountInString(got) != 3 {
		t.Errorf("width 3 drew %q", got)
	}
}
