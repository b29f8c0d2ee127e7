package tui

import (
	"fmt"
	"github.com/slotwatch/slotwatch/internal/spark"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"

	"github.com/slotwatch/slotwatch/internal/termtext"
)

// dur renders seconds compactly, as coarse as precision stops mattering:
// 8.2s, 45s, 9m58s, then 26m (not 26m58s) past ten minutes, 2h05m, 2d04h.
// Past ten minutes a row's text changes once a minute instead of every
// second, so a steady refresh rewrites few cells (over SSH, per viewer).
func dur(seconds float64) string {
	if seconds <= 0 {
		return "-"
	}
	if seconds < 10 {
		return fmt.Sprintf("%.1fs", seconds)
	}
	s := int64(math.Floor(seconds))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
	}
}

func durOf(d time.Duration) string { return dur(d.Seconds()) }

// ageText is dur for data ages, where zero is a real value.
func ageText(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	return durOf(d)
}

// sparkline draws the newest width values scaled from zero to their
// maximum (the rule the report shares).
func sparkline(values []float64, width int) string { return sparklineTo(values, width, 0) }

// sparklineTo is sparkline on a scale from zero to ceil (e.g. maxclients or
// usable slots) or to the series' maximum when that is higher.
func sparklineTo(values []float64, width int, ceil float64) string {
	return spark.Line(values, width, ceil)
}

// gauge draws used/total as a bar of width cells: '#' used, '.' free.
func gauge(used, total, width int) string {
	if width <= 0 {
		return ""
	}
	filled := 0
	if total > 0 {
		filled = int(math.Round(float64(used) / float64(total) * float64(width)))
	}
	filled = max(0, min(filled, width))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

func pct(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b * 100
}

// orDash shows an empty value as a dash so columns stay readable.
func orDash(s string) string { return termtext.OrDash(s) }

// oneLine flattens text from a server (a query, an application name, an
// error) onto one line and neutralises control characters, so data can
// neither break the layout nor send escape sequences to the terminal.
func oneLine(s string) string { return termtext.OneLine(s) }

// clip cuts s to at most n bytes at a character boundary: a table cell
// never needs more, and a megabyte query must not cost a frame.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clean neutralises control characters in server text; the rule is
// shared with the CLI's text output (internal/termtext).
func clean(s string) string { return termtext.Clean(s) }

// col pads or cuts s to exactly w cells.
func col(s string, w int) string { return fitLine(s, w) }

// rcol right-aligns s in w cells.
func rcol(s string, w int) string {
	if len(s) >= w {
		return fitLine(s, w)
	}
	return strings.Repeat(" ", w-len(s)) + s
}

// midCut fits a name into w cells by cutting its middle: names that share
// a prefix (talentflow-web, talentflow-worker) differ at the end, so
// "talen…-web" tells them apart where "talentflow-…" does not. Every name
// column uses it; shorter names are padded like col.
func midCut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw <= w {
		return fitLine(s, w)
	}
	if w < 3 {
		return fitLine(s, w)
	}
	head := w / 2 // the rest, and the ellipsis, go to the tail
	tail := w - 1 - head
	return fitLine(ansi.Truncate(s, head, "")+"…"+ansi.TruncateLeft(s, sw-tail, ""), w)
}

// sparkSpan is how much time a sparkline covers whatever its width: the
// whole trend window, so a narrow pane shows the same ten minutes as a wide
// one, only coarser.
const sparkSpan = analysis.TrendWindow

// sparkSeries buckets the trend by time for a sparkline of width cells
// covering at least sparkSpan: each cell is the highest value of its
// stretch of time (so a one-sample spike stays visible), a stretch without
// a sample is NaN (drawn blank), and stretches before the first sample are
// left out, so a young history draws a short line as before. Buckets are
// aligned to the clock, not to now, so a bar does not change as time
// passes unless a sample in its stretch does. value reports false for a
// point that has no sample of the series (its source failed).
func sparkSeries(trend []collectors.Point, width int, value func(*collectors.Point) (float64, bool)) []float64 {
	if width <= 0 || len(trend) == 0 {
		return nil
	}
	step := int64(math.Ceil(sparkSpan.Seconds() / float64(width)))
	last := bucketOf(trend[len(trend)-1].At, step)
	first := last - int64(width) + 1
	out := make([]float64, width)
	for i := range out {
		out[i] = math.NaN()
	}
	lowest := int64(width)
	for i := range trend {
		v, ok := value(&trend[i])
		b := bucketOf(trend[i].At, step) - first
		if !ok || b < 0 || b >= int64(width) {
			continue
		}
		lowest = min(lowest, b)
		out[b] = spark.Peak(out[b], v)
	}
	if lowest == int64(width) {
		return nil
	}
	return out[lowest:]
}

func bucketOf(t time.Time, step int64) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - step + 1) / step
	}
	return s / step
}
