package demo

import (
	"testing"
	"time"
)

// The simulated server refuses the incident's 234 connections per five
// minutes while it is full, and none once slots are freed: the window then
// empties as the real one does.
func TestSimRefusesTheIncidentsConnections(t *testing.T) {
	s := New(Options{Seed: 1})
	for range 300 {
		s.Advance(time.Second)
	}
	r := s.Snapshot().Refused
	if r == nil || !r.Readable || r.Last5m != 234 || r.Total != 234 || r.BySQLState["53300"] != 234 {
		t.Fatalf("after five full minutes: %+v; want 234 refused, all 53300", r)
	}
	s.mu.Lock()
	for len(s.pg.backends) > 0 && s.pg.used() >= s.pg.usable()-10 {
		s.pg.terminate(s.pg.backends[0].pid, s.now)
	}
	s.mu.Unlock()
	for range 301 {
		s.Advance(time.Second)
	}
	if r := s.Snapshot().Refused; r.Last5m != 0 || r.Total != 234 {
		t.Fatalf("five minutes after freeing slots: %+v; want none in the window, 234 in all", r)
	}
}
