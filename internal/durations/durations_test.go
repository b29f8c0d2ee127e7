package durations

import (
	"errors"
	"testing"
	"time"
)

func TestParseAcceptsGoAndPostgresUnits(t *testing.T) {
	cases := map[string]time.Duration{
		"5m": 5 * time.Minute, "5min": 5 * time.Minute, "5 min": 5 * time.Minute, "90s": 90 * time.Second,
		"300s": 300 * time.Second, "500ms": 500 * time.Millisecond, "1h": time.Hour, "1d": 24 * time.Hour,
		"1h30m": 90 * time.Minute, "1h 30min": 90 * time.Minute, "1.5h": 90 * time.Minute, "0": 0, "0s": 0,
		"250us": 250 * time.Microsecond, "2µs": 2 * time.Microsecond, " 10s ": 10 * time.Second, "+1s": time.Second,
	}
	for in, want := range cases {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for in, want := range map[string]error{
		"-5min": ErrNegative, "-1s": ErrNegative, "- 2h": ErrNegative,
		"": ErrSyntax, "300": ErrSyntax, "5 parsecs": ErrSyntax, "min": ErrSyntax, "5m5": ErrSyntax,
		"1..5s": ErrSyntax, "-": ErrSyntax, "99999999999999999999h": ErrSyntax, "1e3s": ErrSyntax,
	} {
		if _, err := Parse(in); !errors.Is(err, want) {
			t.Errorf("Parse(%q) error = %v, want %v", in, err, want)
		}
	}
}

func TestPGRoundTrips(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 5 * time.Minute: "5min", 90 * time.Second: "90s", 1500 * time.Millisecond: "1500ms",
		2 * time.Hour: "2h", 48 * time.Hour: "2d", 1500 * time.Microsecond: "1500us",
	} {
		if got := PG(d); got != want {
			t.Errorf("PG(%v) = %q, want %q", d, got, want)
		}
		if back, err := Parse(PG(d)); err != nil || back != d {
			t.Errorf("Parse(PG(%v)) = %v, %v", d, back, err)
		}
	}
}

// FuzzParse checks that no input panics and that every accepted value is
// non-negative and survives the PostgreSQL rendering unchanged (to the
// microsecond, PostgreSQL's finest unit).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"5m", "5min", "1h 30min", "-5min", "0", "1.5h", "300"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrNegative) && !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): unexpected error %v", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v, negative", s, d)
		}
		d = d.Truncate(time.Microsecond)
		if back, err := Parse(PG(d)); err != nil || back != d {
			t.Fatalf("Parse(PG(%v)) = %v, %v", d, back, err)
		}
	})
}
