// Package analysis turns snapshots into what an engineer acts on: alert
// states with Prometheus semantics and root-cause findings with evidence.
// It is pure computation over collectors' snapshots and history: no I/O and
// no UI, so the live dashboard, the demo, replay and the postmortem report
// all evaluate the same rules the same way.
package analysis

import (
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// AlertState follows Prometheus: an expression that becomes true is
// pending; true for the rule's `for` duration it is firing; false again
// after pending or firing it is resolved.
type AlertState string

const (
	Inactive AlertState = "inactive"
	Pending  AlertState = "pending"
	Firing   AlertState = "firing"
	Resolved AlertState = "resolved"
)

// Alert is one rule's current state.
type Alert struct {
	Name  string     `json:"name"`
	State AlertState `json:"state"`
	// Since is when the rule entered State.
	Since time.Time `json:"since"`
	Value float64   `json:"value"`
	// Summary is a short human sentence with the value, e.g.
	// "92 of 97 usable connections in use (95%)".
	Summary string `json:"summary"`
}

// Finding is a likely root cause with the evidence that supports it and the
// fix to apply. About names the group, host or job it concerns.
type Finding struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"` // critical, warning, info
	Title    string   `json:"title"`
	About    string   `json:"about"`
	Evidence []string `json:"evidence"`
	Fix      []string `json:"fix"`
}

// Frame is everything the dashboard renders for one moment: the snapshot,
// the alerts and findings derived from it, and recent history for trends.
type Frame struct {
	Snapshot collectors.Snapshot
	Alerts   []Alert
	Findings []Finding
	// Trend is the recent history, oldest first (bounded, e.g. 10 minutes),
	// copied so the UI can keep it without sharing memory with the pipeline.
	Trend []collectors.Point
	// Transitions lists the alert state changes this snapshot caused, for
	// timelines (the postmortem report) and notifications.
	Transitions []Transition
}
