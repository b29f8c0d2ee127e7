package report

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
)

// The timeline's refused line splits the recording's refusals into
// five-minute intervals that add up to what the server logged during it.
func TestTimelineRefusedPerInterval(t *testing.T) {
	sim := demo.New(demo.Options{Seed: 3})
	b := NewBuilder(nil)
	var first, last collectors.Snapshot
	sim.Warm(16*time.Minute, 5*time.Second, func(s collectors.Snapshot) {
		if b.Count() == 0 {
			first = s
		}
		last = s
		b.Add(s)
	})
	var out bytes.Buffer
	if err := b.Write(&out, Options{}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Refused connections per 5 minutes, from the server's log: (.*); (\d+) in all \(53300 (\d+)\)\.`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no refused line in the timeline:\n%s", out.String())
	}
	want := last.Refused.Total - first.Refused.Total
	sum := int64(0)
	parts := strings.Split(m[1], " · ")
	for _, p := range parts {
		n, _ := strconv.ParseInt(p[strings.LastIndex(p, " ")+1:], 10, 64)
		sum += n
	}
	if len(parts) != 4 || !strings.HasPrefix(parts[1], "15:05:00 234") || m[2] != strconv.FormatInt(want, 10) || sum != want || m[3] != m[2] {
		t.Fatalf("refused line %q; want 4 intervals from 15:00 adding up to %d", m[0], want)
	}

	b = NewBuilder(nil)
	s := first
	s.Refused = &collectors.RefusedStats{Why: "role monitor may not read the server log"}
	b.Add(s)
	out.Reset()
	if err := b.Write(&out, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "the server's log was not readable (role monitor may not read the server log)") != 1 {
		t.Fatalf("an unreadable log should be said once:\n%s", out.String())
	}
}
