package tui

import (
	"fmt"
	"github.com/slotwatch/slotwatch/internal/spark"
	"math"
	"strings"
	"time"
	"unicode/utf8"

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
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return oneLine(s)
}

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
