// Package durations is the one parser of durations a person types: on the
// command line, in the config file and as guard values. People on call mix
// Go's units (5m, 90s) with PostgreSQL's (5min, 1h, 1d) because they copy
// them from both worlds; rejecting either one at 3 a.m. helps nobody.
package durations

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The errors of Parse read as the end of a sentence that begins with the
// value ("--idle-over -5min must not be negative"), so each caller names the
// flag, key or argument itself.
var (
	ErrNegative = errors.New("must not be negative")
	ErrSyntax   = errors.New("is not a duration: use e.g. 500ms, 90s, 5m, 5min, 1h or 1d")
)

// units by name, Go's and PostgreSQL's; "m" is a minute in both readings
// anyone uses, never a month or a metre here.
var units = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"ms": time.Millisecond, "s": time.Second, "sec": time.Second, "secs": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "d": 24 * time.Hour,
}

// Parse reads a duration such as "5m", "5min", "1h30m", "1h 30min", "1.5h",
// "300s", "500ms", "1d" or "0". A bare number other than 0 is refused: its
// unit would be a guess (PostgreSQL reads it as milliseconds, Redis as
// seconds). A negative value returns ErrNegative, wrapped, so callers can say
// "must not be negative" instead of "not a duration".
func Parse(s string) (time.Duration, error) {
	rest, neg := strings.TrimSpace(s), false
	if strings.HasPrefix(rest, "-") {
		rest, neg = strings.TrimSpace(rest[1:]), true
	} else if strings.HasPrefix(rest, "+") {
		rest = strings.TrimSpace(rest[1:])
	}
	if rest == "" {
		return 0, ErrSyntax
	}
	if isZero(rest) {
		return 0, nil
	}
	total, err := sum(rest)
	if err != nil {
		return 0, ErrSyntax
	}
	if neg {
		return 0, ErrNegative
	}
	return total, nil
}

func isZero(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == 0 && strings.Trim(s, "0.") == ""
}

// sum adds up number-unit pairs ("1h 30min").
func sum(s string) (time.Duration, error) {
	var total float64
	for s != "" {
		n := numberPrefix(s)
		if n == 0 {
			return 0, errors.New("no number")
		}
		v, err := strconv.ParseFloat(s[:n], 64)
		if err != nil {
			return 0, err
		}
		s = strings.TrimLeft(s[n:], " ")
		u := unitPrefix(s)
		unit, ok := units[s[:u]]
		if !ok {
			return 0, errors.New("no unit")
		}
		s = strings.TrimLeft(s[u:], " ")
		total += v * float64(unit)
		if total > math.MaxInt64 {
			return 0, errors.New("too long")
		}
	}
	return time.Duration(total), nil
}

func numberPrefix(s string) int {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return i
}

func unitPrefix(s string) int {
	i := 0
	for i < len(s) && !(s[i] >= '0' && s[i] <= '9' || s[i] == ' ' || s[i] == '.') {
		i++
	}
	return i
}

// PG renders d in the largest PostgreSQL unit that keeps it exact ("5min",
// "90s", "1500ms"), as ALTER ROLE … SET and SHOW print it.
func PG(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	default:
		return fmt.Sprintf("%dus", d/time.Microsecond)
	}
}
