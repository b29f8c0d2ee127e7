package analysis

import (
	"fmt"
	"time"
)

// Percent renders n of total as a whole percentage, rounding half up, so
// every screen and the report print 161 of 200 as "81%" alike (fmt's %.0f
// rounds half to even and would print "80%" in one place and "81%" in
// another). A zero or negative total is "–".
func Percent(n, total int) string { return PercentOf(float64(n), float64(total)) }

// PercentOf is Percent for fractional values (e.g. thresholds × limits).
func PercentOf(v, total float64) string {
	if total <= 0 {
		return "–"
	}
	return fmt.Sprintf("%d%%", roundHalfUp(100*v/total))
}

func roundHalfUp(x float64) int64 {
	if x < 0 {
		return -roundHalfUp(-x)
	}
	// The epsilon absorbs float error in e.g. 100*161/200 = 80.49999….
	return int64(x + 0.5 + 1e-9)
}

// FormatDuration renders 12m45s, 2h3m or 40s for people: rounded to the
// second (12.7 s is "13s", never truncated to "12s"). It is the one
// duration formatter for alerts, findings, the report and the screen.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
