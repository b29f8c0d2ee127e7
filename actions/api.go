// Package actions performs mitigations (cancel/terminate PostgreSQL backends,
// kill Redis clients, server-side guards), enforces the safety policy that
// decides what may never be touched, and writes the audit log. The dashboard
// and the CLI both call it; nothing here knows about the terminal UI.
//
// Every mutation is two steps: Preview computes exactly which targets would be
// hit (and which were excluded, and why); Execute acts only on the previewed
// targets, re-checking identity and predicate at execution time.
//
// Guards (ALTER ROLE … SET idle_session_timeout /
// idle_in_transaction_session_timeout, Redis CONFIG SET timeout) follow the
// same preview/execute steps. Their previous values live in the audit log,
// which is also what `revert` reads: it undoes the newest change slotwatch
// made that is not reverted yet, one step at a time.
package actions

import (
	"context"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Kind of signal sent to PostgreSQL backends.
type Kind string

const (
	Cancel    Kind = "cancel"    // pg_cancel_backend: stops the running query
	Terminate Kind = "terminate" // pg_terminate_backend: closes the session
)

// SessionFilter selects PostgreSQL sessions. Empty fields match everything;
// text fields are exact values or globs (*, ?, [..]).
type SessionFilter struct {
	PIDs     []int32       `json:"pids,omitempty"`
	States   []string      `json:"states,omitempty"`
	IdleOver time.Duration `json:"idle_over,omitempty"` // time in current state
	App      string        `json:"app,omitempty"`
	User     string        `json:"user,omitempty"`
	DB       string        `json:"db,omitempty"`
	Client   string        `json:"client,omitempty"`
	Limit    int           `json:"limit,omitempty"`
}

// SessionRequest asks for a cancel or terminate of the sessions matching Filter.
type SessionRequest struct {
	// Server names the server to act on when several are configured
	// (Fleet); empty means the only (or primary) one.
	Server string        `json:"server,omitempty"`
	Kind   Kind          `json:"kind"`
	Filter SessionFilter `json:"filter"`
}

// Backend is what the policy needs to know about one backend.
type Backend struct {
	PID             int32     `json:"pid"`
	BackendStart    time.Time `json:"backend_start"`
	BackendType     string    `json:"backend_type"`
	Usename         string    `json:"usename"`
	Superuser       bool      `json:"superuser"`
	Replication     bool      `json:"replication"`
	ApplicationName string    `json:"application_name"`
	Datname         string    `json:"datname"`
	ClientAddr      string    `json:"client_addr"`
	State           string    `json:"state"`
	StateSeconds    float64   `json:"state_seconds"`
	Query           string    `json:"query"`
	// Hidden marks a row the driver's role may not fully see (no
	// backend_start, state): it cannot be re-checked, so it is never signalled.
	Hidden bool `json:"hidden,omitempty"`
	// Own marks the backend of the connection that read the row: the
	// console's own, whichever connection that is at the moment.
	Own bool `json:"own,omitempty"`
}

// Exclusion is a backend that matched the filter but the policy protects.
type Exclusion struct {
	Backend Backend `json:"backend"`
	Reason  string  `json:"reason"`
}

// SessionPlan is a previewed session action: exactly Targets will be signalled.
type SessionPlan struct {
	Request SessionRequest `json:"request"`
	Server  string         `json:"server"` // redacted target
	// ServerName is the configured name of the server when several are
	// configured (Fleet); empty for a single target.
	ServerName string      `json:"server_name,omitempty"`
	Statement  string      `json:"statement"`
	Targets    []Backend   `json:"targets"`
	Excluded   []Exclusion `json:"excluded"`
	Notes      []string    `json:"notes,omitempty"` // e.g. "cancel has no effect on idle sessions"
	PlannedAt  time.Time   `json:"planned_at"`
}

// Outcome of one target.
type Outcome string

const (
	Done    Outcome = "done"
	Gone    Outcome = "already gone"
	Skipped Outcome = "skipped"
	Failed  Outcome = "failed"
)

// TargetResult reports what happened to one target. ID is the pid or the
// Redis client id.
type TargetResult struct {
	ID int64 `json:"id"`
	// Node is the Redis Cluster node of a client target (ids are per node).
	Node    string  `json:"node,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
}

// SessionReport is the per-target result of an executed SessionPlan.
type SessionReport struct {
	Plan    SessionPlan    `json:"plan"`
	Results []TargetResult `json:"results"`
}

// PGDriver is the server side of session actions: the real implementation
// talks to PostgreSQL; the demo implements it over its simulation.
type PGDriver interface {
	// Server names the target without credentials.
	Server() string
	// OwnPID is the driver's own backend, which is never signalled.
	OwnPID() int32
	// Backends lists every backend with what the policy needs.
	Backends(ctx context.Context) ([]Backend, error)
	// Signal sends kind to each target, re-checking in the same statement
	// that the pid still has the previewed backend_start, is still in the
	// previewed state (or, when the filter names states, in one of them),
	// still matches the filter and is still allowed by protect (protected
	// applications, superuser, backend type, replication, own backend); a
	// target that fails the re-check is Skipped, not signalled. Terminate
	// waits for the signalled backends to exit (Done) or reports those still
	// running after the driver's timeout as Failed.
	Signal(ctx context.Context, kind Kind, targets []Backend, recheck SessionFilter, protect Protection) ([]TargetResult, error)
}

// RedisFilter selects Redis clients. Text fields are exact values or globs.
type RedisFilter struct {
	// Server is as SessionRequest.Server.
	Server   string        `json:"server,omitempty"`
	IDs      []int64       `json:"ids,omitempty"`
	Host     string        `json:"host,omitempty"`
	Name     string        `json:"name,omitempty"`
	Lib      string        `json:"lib,omitempty"`
	IdleOver time.Duration `json:"idle_over,omitempty"`
	AgeOver  time.Duration `json:"age_over,omitempty"`
}

// RedisPlan is a previewed CLIENT KILL: exactly Targets will be killed.
type RedisPlan struct {
	Filter RedisFilter `json:"filter"`
	Server string      `json:"server"` // redacted target
	// ServerName is as SessionPlan.ServerName.
	ServerName string                   `json:"server_name,omitempty"`
	Statement  string                   `json:"statement"`
	Targets    []collectors.RedisClient `json:"targets"`
	Excluded   []RedisExclusion         `json:"excluded"`
	Notes      []string                 `json:"notes,omitempty"`
	PlannedAt  time.Time                `json:"planned_at"`
}

// RedisExclusion is a client that matched but the policy protects.
type RedisExclusion struct {
	Client collectors.RedisClient `json:"client"`
	Reason string                 `json:"reason"`
}

// RedisReport is the per-target result of an executed RedisPlan.
type RedisReport struct {
	Plan    RedisPlan      `json:"plan"`
	Results []TargetResult `json:"results"`
}

// RedisDriver is the server side of Redis actions.
type RedisDriver interface {
	Server() string
	// OwnID is the driver's own client id, which is never killed.
	OwnID() int64
	// Clients lists every client; on a Redis Cluster every node's, each
	// with RedisClient.Node set (client ids are per node).
	Clients(ctx context.Context) ([]collectors.RedisClient, error)
	// Kill closes one client, identified by its id on c.Node (the only
	// server when Node is empty); false means it was already gone.
	Kill(ctx context.Context, c collectors.RedisClient) (bool, error)
}
