package charts

import (
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
)

// tickSteps are the clock intervals a time axis is marked at: round
// numbers a reader counts in, from seconds to days.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// maxTimeTicks keeps the labels apart at the default width.
const maxTimeTicks = 9

// timeTicks marks the x axis (seconds since from) at round UTC clock times.
type timeTicks struct{ from time.Time }

func (t timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= maxTimeTicks {
			step = s
			break
		}
	}
	layout := "15:04"
	if step < time.Minute {
		layout = "15:04:05"
	}
	start := t.from.Add(time.Duration(lo * float64(time.Second))).UTC().Truncate(step)
	end := t.from.Add(time.Duration(hi * float64(time.Second)))
	var ticks []plot.Tick
	for at := start; !at.After(end); at = at.Add(step) {
		x := at.Sub(t.from).Seconds()
		if x < lo {
			continue
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: at.UTC().Format(layout)})
		// Unlabelled minor ticks at fifths or halves of the step.
		for _, m := range minorOf(step) {
			if mx := x + m.Seconds(); mx <= hi {
				ticks = append(ticks, plot.Tick{Value: mx})
			}
		}
	}
	return ticks
}

func minorOf(step time.Duration) []time.Duration {
	n := 5
	if step == 15*time.Second || step == 15*time.Minute || step == 3*time.Hour {
		n = 3
	}
	if step == 2*time.Second || step == 2*time.Minute || step == 2*time.Hour || step == 24*time.Hour {
		n = 2
	}
	out := make([]time.Duration, 0, n-1)
	for i := 1; i < n; i++ {
		out = append(out, step*time.Duration(i)/time.Duration(n))
	}
	return out
}

// valueTicks marks the y axis at four to eight round values (1, 2, 2.5
// or 5 times a power of ten), with unlabelled ticks between; a count axis
// (whole) is marked at whole numbers only: half a connection is no reading.
type valueTicks struct{ whole bool }

func (v valueTicks) Ticks(lo, hi float64) []plot.Tick {
	if hi <= lo {
		return nil
	}
	step := niceCeil((hi - lo) / 6)
	if v.whole {
		step = math.Max(1, math.Round(step))
	}
	var out []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		x := k * step
		if !v.whole { // 3 × 0.1 is 0.30000000000000004
			x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', 10, 64), 64)
		}
		out = append(out, plot.Tick{Value: x, Label: count(x)})
		if mid := x + step/2; mid <= hi && (!v.whole || mid == math.Trunc(mid)) {
			out = append(out, plot.Tick{Value: mid})
		}
	}
	return out
}

func count(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
