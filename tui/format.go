package tui

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// dur renders seconds compactly: 8.2s, 12m45s, 3h05m, 2d04h.
func dur(seconds float64) string {
	if seconds <= 0 {
		return "-"
	}
	if seconds < 10 {
		return fmt.Sprintf("%.1fs", seconds)
	}
	s := int64(math.Round(seconds))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
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

// sparkBars are eight heights, readable without colour.
var sparkBars = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the newest width values scaled between their min and max,
// so a trend shows even when the level is high; a flat series is mid-height.
func sparkline(values []float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	minV, maxV := values[0], values[0]
	for _, v := range values {
		minV, maxV = math.Min(minV, v), math.Max(maxV, v)
	}
	var b strings.Builder
	for _, v := range values {
		i := 3
		if maxV > minV {
			i = int(math.Round((v - minV) / (maxV - minV) * float64(len(sparkBars)-1)))
		}
		i = max(0, min(i, len(sparkBars)-1))
		b.WriteRune(sparkBars[i])
	}
	return b.String()
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
func oneLine(s string) string {
	return strings.Join(strings.Fields(clean(s)), " ")
}

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

// clean replaces control characters (C0, DEL, C1) and invalid UTF-8 with
// '?'; tabs and newlines become spaces.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError:
			return '?'
		}
		return r
	}, s)
}

// col pads or cuts s to exactly w cells.
func col(s string, w int) string { return fitLine(s, w) }

// rcol right-aligns s in w cells.
func rcol(s string, w int) string {
	if len(s) >= w {
		return fitLine(s, w)
	}
	return strings.Repeat(" ", w-len(s)) + s
}
