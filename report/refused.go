package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// maxRefusedIntervals bounds the timeline's refused line: a long recording
// gets longer intervals, not a longer line.
const maxRefusedIntervals = 24

// refusedLog follows the server's refused-connection count through the
// recording: the count's total at the end of each five-minute interval.
type refusedLog struct {
	seen     bool
	readable bool
	why      string
	// base is the total at the first readable sample: refusals before the
	// recording are not the recording's.
	base    int64
	last    int64
	byState map[string]int64
	baseBy  map[string]int64
	// starts are the five-minute intervals seen, totals the count at each
	// one's last sample.
	starts []time.Time
	totals []int64
}

// observeRefused records a snapshot's refused count.
func (b *Builder) observeRefused(s collectors.Snapshot) {
	r := s.Refused
	if r == nil {
		return
	}
	l := &b.refused
	if !r.Readable {
		if !l.readable {
			l.seen, l.why = true, r.Why
		}
		return
	}
	if !l.readable {
		l.readable, l.base, l.baseBy = true, r.Total, r.BySQLState
	}
	l.seen, l.last, l.byState = true, r.Total, r.BySQLState
	start := s.TakenAt.UTC().Truncate(collectors.RefusedWindow)
	if n := len(l.starts); n > 0 && l.starts[n-1].Equal(start) {
		l.totals[n-1] = r.Total
		return
	}
	l.starts, l.totals = append(l.starts, start), append(l.totals, r.Total)
}

// writeRefused is the timeline's line of refused connections per
// interval, from the server's own log; or, once, why the log was not read.
func (b *Builder) writeRefused(md *mdWriter) {
	l := &b.refused
	switch {
	case !l.seen:
		return
	case !l.readable:
		md.line("Refused connections: the server's log was not readable (%s); only the probe's refusals are known.", esc(l.why))
		md.line("")
		return
	}
	step := (len(l.starts) + maxRefusedIntervals - 1) / maxRefusedIntervals
	var parts []string
	prev := l.base
	for i := 0; i < len(l.starts); i += step {
		end := min(i+step, len(l.starts)) - 1
		parts = append(parts, fmt.Sprintf("%s %d", clock(l.starts[i]), l.totals[end]-prev))
		prev = l.totals[end]
	}
	var states []string
	for _, st := range slices.Sorted(maps.Keys(l.byState)) {
		if n := l.byState[st] - l.baseBy[st]; n > 0 {
			states = append(states, fmt.Sprintf("%s %d", st, n))
		}
	}
	total := fmt.Sprintf("%d in all", l.last-l.base)
	if len(states) > 0 {
		total += " (" + strings.Join(states, ", ") + ")"
	}
	md.line("Refused connections per %s, from the server's log: %s; %s.", intervalText(time.Duration(step)*collectors.RefusedWindow),
		esc(strings.Join(parts, " · ")), esc(total))
	md.line("")
}

func intervalText(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%d minutes", d/time.Minute)
}
