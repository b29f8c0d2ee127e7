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

// BucketMax folds values into at most width buckets, each the maximum of
// its values, so a short spike in a long series still shows.
func BucketMax(values []float64, width int) []float64 {
	if width <= 0 || len(values) <= width {
		return values
	}
	out := make([]float64, width)
	for c := range out {
		from, to := c*len(values)/width, (c+1)*len(values)/width
		m := values[from]
		for _, v := range values[from:to] {
			m = math.Max(m, v)
		}
		out[c] = m
	}
	return out
}
