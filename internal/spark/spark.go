// Package spark is the one sparkline rule the dashboard and the report
// share: bars scaled from zero, so the height means the level.
package spark

import (
	"math"
	"strings"
)

// barText is the eight heights, readable without colour.
const barText = "▁▂▃▄▅▆▇█"

// Bars are the heights Line draws, lowest first.
func Bars() []rune { return []rune(barText) }

// Line draws the newest width values scaled from zero to ceil (e.g.
// maxclients or usable slots), or to the values' maximum when that is
// higher: 71 → 72 clients stays two nearly full bars instead of ▁ → █, so
// the height means the level and a real climb still shows. A NaN (no
// sample) is drawn as a blank.
func Line(values []float64, width int, ceil float64) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	bars := Bars()
	top := ceil
	for _, v := range values {
		if !math.IsNaN(v) {
			top = math.Max(top, v)
		}
	}
	var b strings.Builder
	for _, v := range values {
		if math.IsNaN(v) { // no sample in this stretch of time: a gap, never zero
			b.WriteByte(' ')
			continue
		}
		i := 0
		if top > 0 {
			i = int(math.Round(math.Max(v, 0) / top * float64(len(bars)-1)))
		}
		i = max(0, min(i, len(bars)-1))
		b.WriteRune(bars[i])
	}
	return b.String()
}

// BucketMax folds values into at most width buckets, each the peak of its
// values (Peak), so a short spike in a long series still shows and a
// missing sample beside it does not blank it; a bucket with no sample at
// all stays NaN, a gap.
func BucketMax(values []float64, width int) []float64 {
	if width <= 0 || len(values) <= width {
		return values
	}
	out := make([]float64, width)
	for c := range out {
		from, to := c*len(values)/width, (c+1)*len(values)/width
		m := math.NaN()
		for _, v := range values[from:to] {
			m = Peak(m, v)
		}
		out[c] = m
	}
	return out
}

// Peak is the rule every bucketing of a series follows (the dashboard's
// sparklines, the timeline's columns, the fleet's and the report's): a
// bucket is the highest sample in it, and NaN (no sample) only while no
// sample has come. math.Max would let one NaN blank the bucket.
func Peak(cur, v float64) float64 {
	if math.IsNaN(cur) || v > cur {
		return v
	}
	return cur
}

// Downsample folds a time series (xs ascending, ys NaN where there was no
// sample) into buckets of equal x range over [from, to], at most width of
// them, by the same rule as BucketMax: the maximum. Within a bucket each
// run of samples becomes one point, its maximum at that sample's x, and
// each run of missing samples one NaN point, so a one-sample spike in hours
// of data is still drawn at its height and an outage is still a gap, never
// bridged and never zero. A series that already fits is returned as is.
func Downsample(xs, ys []float64, from, to float64, width int) (outX, outY []float64) {
	if width <= 0 || len(xs) <= width || to <= from {
		return xs, ys
	}
	span := (to - from) / float64(width)
	bucket := func(x float64) int {
		return min(width-1, max(0, int((x-from)/span)))
	}
	outX, outY = make([]float64, 0, 2*width), make([]float64, 0, 2*width)
	for i := 0; i < len(xs); {
		b, gap := bucket(xs[i]), math.IsNaN(ys[i])
		peak := i
		j := i + 1
		for ; j < len(xs) && bucket(xs[j]) == b && math.IsNaN(ys[j]) == gap; j++ {
			if !gap && ys[j] > ys[peak] {
				peak = j
			}
		}
		outX, outY = append(outX, xs[peak]), append(outY, ys[peak])
		i = j
	}
	return outX, outY
}
