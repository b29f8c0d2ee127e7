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
	// Summary is a short human sentence with the current value, e.g.
	// "92 of 97 usable connections in use (95%)".
	Summary string `json:"summary"`
	// FiredValue and FiredSummary are the value and summary when the alert
	// last became pending or firing: what made it fire. A firing alert's
	// current value may already look healthy (the probe succeeds again
	// before the rule resolves, or the source went stale), so a screen
	// shows both (Text) instead of contradicting itself.
	FiredValue   float64 `json:"fired_value,omitempty"`
	FiredSummary string  `json:"fired_summary,omitempty"`
	// Server names the server the alert is about when several are
	// configured (collectors.ServerSnapshot.Name); empty for one target.
	Server string `json:"server,omitempty"`
}

// Text is the one line to show for the alert: for a pending or firing alert
// whose current summary differs from the one that made it fire, both
// ("fired at …; now: …"); otherwise the summary.
func (a Alert) Text() string {
	if (a.State != Pending && a.State != Firing) || a.FiredSummary == "" || a.FiredSummary == a.Summary {
		return a.Summary
	}
	verb := "fired at "
	if a.State == Pending {
		verb = "pending at "
	}
	return verb + a.FiredSummary + "; now: " + a.Summary
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
	// Since is when this finding (same ID and About) was first seen in the
	// stream; zero in a one-shot evaluation.
	Since time.Time `json:"since,omitzero"`
	// Cleared is when the finding's evidence stopped holding. A cleared
	// finding stays in the frame for ClearedRetention at severity info,
	// its first evidence line saying why; it has no fix or mitigation.
	Cleared time.Time `json:"cleared,omitzero"`
	// Mitigations are the actions the finding suggests, in order; the
	// dashboard opens the usual preview + confirm dialog for one of them.
	Mitigations []Mitigation `json:"mitigations,omitempty"`
	// Server is as Alert.Server; its mitigations act on that server.
	Server string `json:"server,omitempty"`
}

// MitigationKind says which action a Mitigation pre-fills.
type MitigationKind string

const (
	// TerminateSessions: terminate the sessions matching Sessions (an
	// app/user/db scope, idle longer than N, or blocker pids).
	TerminateSessions MitigationKind = "terminate-sessions"
	// SetPGGuard: ALTER ROLE Role SET Setting = Value
	// (idle_session_timeout, idle_in_transaction_session_timeout).
	SetPGGuard MitigationKind = "pg-guard"
	// KillRedisClients: CLIENT KILL the clients matching Redis.
	KillRedisClients MitigationKind = "redis-kill"
	// SetRedisTimeout: CONFIG SET timeout Value (seconds).
	SetRedisTimeout MitigationKind = "redis-timeout"
)

// Mitigation is one suggested action, described with plain values so that
// analysis stays free of the actions package; the dashboard turns it into
// an actions request, previews it and runs it only after `y`.
type Mitigation struct {
	Kind MitigationKind `json:"kind"`
	// Server is the server to act on (Alert.Server); empty for one target.
	Server string `json:"server,omitempty"`
	Label  string `json:"label"` // e.g. "terminate talentflow-web idle > 10m"
	// Sessions scope (TerminateSessions). Empty text fields match all;
	// States use pg_stat_activity's words ("idle", "idle in transaction").
	App      string        `json:"app,omitempty"`
	User     string        `json:"user,omitempty"`
	DB       string        `json:"db,omitempty"`
	Client   string        `json:"client,omitempty"`
	States   []string      `json:"states,omitempty"`
	IdleOver time.Duration `json:"idle_over,omitempty"`
	PIDs     []int32       `json:"pids,omitempty"`
	// Guard (SetPGGuard, SetRedisTimeout).
	Setting string `json:"setting,omitempty"`
	Role    string `json:"role,omitempty"`
	Value   string `json:"value,omitempty"`
	// Redis scope (KillRedisClients): host, folded-name glob, library.
	RedisHost string `json:"redis_host,omitempty"`
	RedisName string `json:"redis_name,omitempty"`
	RedisLib  string `json:"redis_lib,omitempty"`
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
	// Fleet has one row per server, least headroom first, when the
	// snapshot has several (Snapshot.Servers); nil otherwise.
	Fleet []FleetRow
}

// FleetRow is one server's line at the top of the dashboard.
type FleetRow struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // collectors.SourcePostgres or SourceRedis
	Primary bool   `json:"primary,omitempty"`
	// Used and Usable are slots (PostgreSQL: Used()/Usable(); Redis:
	// connected clients / maxclients, of the fullest node for a cluster).
	Used   int `json:"used"`
	Usable int `json:"usable"`
	// Node is, for a Redis Cluster, the fullest node Used and Usable are
	// of (FullestRedis); empty otherwise.
	Node string `json:"node,omitempty"`
	// Ratio is Used/Usable (0 when Usable is unknown); rows sort by it,
	// highest first, then DOWN servers first.
	Ratio float64 `json:"ratio"`
	// ProbeOK is the connect probe's verdict for the primary PostgreSQL
	// server; nil where no probe runs.
	ProbeOK *bool `json:"probe_ok,omitempty"`
	Firing  int   `json:"firing"`
	Pending int   `json:"pending"`
	// Down is true when the server has never answered or its latest sample
	// failed (Error says why).
	Down  bool   `json:"down,omitempty"`
	Error string `json:"error,omitempty"`
}
