package demo

import (
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// appRefusalEvery spaces the application's connection attempts that the
// full server refuses: the incident's 234 failed connections in 5 minutes.
const appRefusalEvery = collectors.RefusedWindow / 234

// simulatedLog is what the header and reports name as the log read.
const simulatedLog = "csvlog log/postgresql.csv (simulated)"

// appRefusals is the simulated server's log of refused connections: the
// application tries a new connection every appRefusalEvery, refused with
// 53300 while every usable slot is taken, counted by the collectors' own
// RefusalCount so the five-minute window is the live one.
type appRefusals struct {
	count collectors.RefusalCount
}

// advance records the attempts due in (from, to], refused when full.
func (r *appRefusals) advance(start, from, to time.Time, full bool) {
	if !full {
		return
	}
	first := from.Sub(start)/appRefusalEvery + 1
	last := to.Sub(start) / appRefusalEvery
	for k := first; k <= last; k++ {
		r.count.Record(start.Add(k*appRefusalEvery), collectors.SQLStateTooManyConnections)
	}
}

func (r *appRefusals) stats(now time.Time) *collectors.RefusedStats {
	st := r.count.Stats(now)
	st.Log = simulatedLog
	return &st
}
