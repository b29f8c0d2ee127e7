// Package collectors samples PostgreSQL, the connect probe, Redis and job
// capacity, each on one dedicated connection, and emits immutable snapshots.
// Nothing here knows about the terminal UI.
package collectors

import "time"

// Snapshot is one combined view of every configured source. It is the JSON
// contract of `slotwatch snapshot --json` and of recordings: a source that was
// not configured is nil (absent in JSON). Snapshots are never mutated after
// they are published; consumers may share them freely.
type Snapshot struct {
	TakenAt  time.Time    `json:"taken_at"`
	Postgres *PGStats     `json:"postgres,omitempty"`
	Probe    *ProbeResult `json:"probe,omitempty"`
	Redis    *RedisStats  `json:"redis,omitempty"`
	Jobs     *JobsStats   `json:"jobs,omitempty"`
	// PgBouncer is the pooler in front of PostgreSQL (pgbouncer.go).
	PgBouncer *PgBouncerStats `json:"pgbouncer,omitempty"`
	// Alerting is the team's own alerting (Alertmanager/Prometheus), every
	// alert marked external; nil when alerting is not configured.
	Alerting *AlertingStats `json:"alerting,omitempty"`
	// Refused counts the connections the primary PostgreSQL server refused,
	// from its own log (pglog.go); nil when the log is not watched.
	Refused *RefusedStats `json:"refused,omitempty"`
	// PromFleet is the fleet as the team's Prometheus sees it
	// (promfleet.go); nil when fleet.prometheus is not configured.
	PromFleet *PromFleetStats `json:"fleet_prometheus,omitempty"`
	// Errors holds, per source (the Source* names), the sentence describing
	// why its latest sample failed. A source with an error still carries
	// its last good data, marked by LastGoodAt, or is nil when
	// it never answered (contract C3). Jobs is nil without an error when the
	// default query's tables do not exist: it does not apply.
	Errors map[string]string `json:"errors"`
	// Servers lists every PostgreSQL and Redis server when more than one is
	// configured (a primary and replicas, several Redis instances); absent
	// for a single target, whose JSON keeps the shape above. The primary
	// of each kind (the first configured) is also at the top level
	// (Postgres, Redis), sharing the same stats.
	Servers []ServerSnapshot `json:"servers,omitempty"`
	// IntervalSeconds is each configured source's sampling period, so a
	// reader (a viewer, a replay) judges staleness by the source's own
	// interval: see Source.
	IntervalSeconds map[string]float64 `json:"interval_seconds,omitempty"`
}

// ServerSnapshot is one server of several: its own collector's latest
// sample or the sentence saying why that sample failed.
type ServerSnapshot struct {
	// Name is the configured name, or the redacted host:port when none.
	Name string `json:"name"`
	Kind string `json:"kind"` // SourcePostgres or SourceRedis
	// Primary marks the server whose stats are also Snapshot.Postgres or
	// Snapshot.Redis (and the one the probe and jobs belong to).
	Primary  bool        `json:"primary,omitempty"`
	Postgres *PGStats    `json:"postgres,omitempty"`
	Redis    *RedisStats `json:"redis,omitempty"`
	// Error is why the latest sample failed (as Snapshot.Errors does for
	// a single target); the stats then are the last good ones or nil.
	Error string `json:"error,omitempty"`
}

// Source names used as keys of Snapshot.Errors.
const (
	SourcePostgres = "postgres"
	SourceProbe    = "probe"
	SourceRedis    = "redis"
	SourceJobs     = "jobs"
)

// Sample is what every source snapshot carries: when it was taken and when the
// source last answered.
type Sample struct {
	SampledAt  time.Time `json:"sampled_at"`
	LastGoodAt time.Time `json:"last_good_at,omitzero"`
}

// PGStats is one sample of pg_stat_activity plus the connection-slot settings.
type PGStats struct {
	Sample
	Target                       string `json:"target"` // host:port/db, never a password
	ServerVersion                string `json:"server_version"`
	ServerVersionNum             int    `json:"server_version_num"`
	MaxConnections               int    `json:"max_connections"`
	SuperuserReservedConnections int    `json:"superuser_reserved_connections"`
	ReservedConnections          int    `json:"reserved_connections"`
	// Total counts client backends, excluding slotwatch's own.
	Total int `json:"total"`
	// OwnConnections is how many of the server's connections are
	// slotwatch's own collector connections, left out of Total and
	// Sessions (its PostgreSQL collector, and its jobs collector when that
	// runs on the same DSN): Total + OwnConnections slots are taken.
	OwnConnections int            `json:"own_connections"`
	ByState        map[string]int `json:"by_state"`
	// Waiting counts sessions waiting on a heavyweight lock (wait_event_type
	// 'Lock'); ClientRead waits are not counted.
	Waiting  int            `json:"waiting"`
	Sessions []Session      `json:"sessions"`
	Groups   []SessionGroup `json:"groups"`
	// Role is the role slotwatch reads pg_stat_activity as; ReadsAllStats
	// says whether it has pg_read_all_stats (through pg_monitor or as a
	// superuser), without which other roles' rows come back hidden.
	Role          string `json:"role,omitempty"`
	ReadsAllStats bool   `json:"reads_all_stats,omitempty"`
	// HiddenSessions counts the listed sessions whose state, query and
	// client this role may not see (Session.Hidden).
	HiddenSessions int `json:"hidden_sessions,omitempty"`
}

// Used is the number of slots taken on the server as the sessions' view
// counts them: every listed client backend plus slotwatch's own.
func (p *PGStats) Used() int { return p.Total + p.OwnConnections }

// Usable is the number of slots an ordinary role can take: max_connections
// minus the superuser and (PG16+) reserved slots.
func (p *PGStats) Usable() int {
	return p.MaxConnections - p.SuperuserReservedConnections - p.ReservedConnections
}

// Session is one client backend of pg_stat_activity. Durations are seconds;
// a duration whose timestamp is NULL (no open transaction, no query yet, or a
// row the role may not see) is 0.
type Session struct {
	PID             int32     `json:"pid"`
	BackendStart    time.Time `json:"backend_start"`
	Datname         string    `json:"datname"`
	Usename         string    `json:"usename"`
	ApplicationName string    `json:"application_name"`
	ClientAddr      string    `json:"client_addr"`
	State           string    `json:"state"`
	StateSeconds    float64   `json:"state_seconds"`
	XactSeconds     float64   `json:"xact_seconds"`
	QuerySeconds    float64   `json:"query_seconds"`
	WaitEventType   string    `json:"wait_event_type"`
	WaitEvent       string    `json:"wait_event"`
	BlockedBy       []int32   `json:"blocked_by"`
	Query           string    `json:"query"`
	// BackendSeconds is the age of the connection (now - backend_start).
	BackendSeconds float64 `json:"backend_seconds"`
	// Hidden marks a row the monitoring role may not fully see
	// ("<insufficient privilege>", NULL state): kept, not dropped.
	Hidden bool `json:"insufficient_privilege,omitempty"`
}

// SessionKey identifies a backend across refreshes: a pid may be reused by a
// new backend, the pair may not.
type SessionKey struct {
	PID          int32
	BackendStart time.Time
}

// Key returns the identity of the session.
func (s *Session) Key() SessionKey { return SessionKey{PID: s.PID, BackendStart: s.BackendStart} }

// SessionGroup aggregates sessions by who holds them.
type SessionGroup struct {
	ApplicationName   string         `json:"application_name"`
	Usename           string         `json:"usename"`
	ClientAddr        string         `json:"client_addr"`
	Datname           string         `json:"datname"`
	Total             int            `json:"total"`
	ByState           map[string]int `json:"by_state"`
	OldestIdleSeconds float64        `json:"oldest_idle_seconds"`
	// OldestBackendSeconds is the age of the group's oldest connection: old
	// connections that are always idle point at persistent connections.
	OldestBackendSeconds float64 `json:"oldest_backend_seconds"`
}

// ProbeResult is one attempt to open a fresh connection, as the application
// would.
type ProbeResult struct {
	SampledAt time.Time `json:"sampled_at"`
	OK        bool      `json:"ok"`
	ConnectMS float64   `json:"connect_ms"`
	SQLState  string    `json:"sqlstate"`
	Error     string    `json:"error"`
	// Reason is the server's own message when it refused the connection
	// (e.g. which slots are gone for a 53300), verbatim but for secrets:
	// show it rather than a wording of slotwatch's own.
	Reason string `json:"reason,omitempty"`
}

// RedisStats is one sample of INFO clients/stats and CLIENT LIST.
type RedisStats struct {
	Sample
	Target                   string `json:"target"` // host:port/db, never a password
	ServerVersion            string `json:"server_version"`
	ConnectedClients         int64  `json:"connected_clients"`
	MaxClients               int64  `json:"maxclients"`
	BlockedClients           int64  `json:"blocked_clients"`
	RejectedConnections      int64  `json:"rejected_connections"`
	TotalConnectionsReceived int64  `json:"total_connections_received"`
	// ClientsSampledAt is when CLIENT LIST was last read; with thousands of
	// clients it is read less often than INFO (ClientListEverySeconds).
	ClientsSampledAt       time.Time `json:"clients_sampled_at,omitzero"`
	ClientListEverySeconds float64   `json:"client_list_every_seconds"`
	// OwnConnections counts slotwatch's own clients (its collector's one
	// connection, which actions share), left out of Clients and Groups but
	// counted in ConnectedClients.
	OwnConnections int           `json:"own_connections"`
	Clients        []RedisClient `json:"clients"`
	Groups         []RedisGroup  `json:"groups"`
	// Cluster is true for a Redis Cluster: the counters above are summed
	// over every node, Clients and Groups cover every node (each client
	// names its Node), and Nodes has each node's own numbers.
	Cluster bool             `json:"cluster,omitempty"`
	Nodes   []RedisNodeStats `json:"nodes,omitempty"`
}

// RedisNodeStats is one node of a Redis Cluster.
type RedisNodeStats struct {
	Addr                string       `json:"addr"` // host:port as the cluster announces it
	Role                string       `json:"role"` // master or replica
	ConnectedClients    int64        `json:"connected_clients"`
	MaxClients          int64        `json:"maxclients"`
	RejectedConnections int64        `json:"rejected_connections"`
	OwnConnections      int          `json:"own_connections"`
	Groups              []RedisGroup `json:"groups"`
	Error               string       `json:"error,omitempty"`
}

// RedisClient is one line of CLIENT LIST. Raw keeps the whole line so that
// fields slotwatch does not model are still available (Field).
type RedisClient struct {
	ID          int64  `json:"id"`
	Addr        string `json:"addr"`
	Name        string `json:"name"`
	LibName     string `json:"lib_name"`
	AgeSeconds  int64  `json:"age_seconds"`
	IdleSeconds int64  `json:"idle_seconds"`
	DB          int    `json:"db"`
	Cmd         string `json:"cmd"`
	Flags       string `json:"flags"`
	// Node is the cluster node the client is connected to (host:port);
	// empty for a single Redis server. Client ids are per node.
	Node string `json:"node,omitempty"`
	Raw  string `json:"-"`
}

// RedisGroup aggregates clients by host, folded name pattern and library.
type RedisGroup struct {
	Host             string `json:"host"`
	Name             string `json:"name"` // digit runs folded: cache-17 → cache-#
	LibName          string `json:"lib_name"`
	Count            int    `json:"count"`
	MaxIdleSeconds   int64  `json:"max_idle_seconds"`
	OldestAgeSeconds int64  `json:"oldest_age_seconds"`
}

// JobsStats is one run of the job-capacity query.
type JobsStats struct {
	Sample
	OverCapacity []JobCapacity `json:"over_capacity"`
}

// JobCapacity is a row whose count exceeds its limit. ID is text so any key
// type (integer, uuid) the configured query returns fits.
type JobCapacity struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Count  int64  `json:"count"`
	Limit  int64  `json:"limit"`
	Excess int64  `json:"excess"`
}

// RefusedStats is the primary server's refused connections (the
// RefusalSQLStates at FATAL), read from its csvlog or jsonlog. When the log
// is not readable, Why says what would make it so, and ProbeFailures5m is
// the count to show instead.
type RefusedStats struct {
	SampledAt time.Time `json:"sampled_at"`
	Readable  bool      `json:"log_readable"`
	Why       string    `json:"why,omitempty"`
	// Fix is the short part of Why a header has room for: the grant or
	// setting that would make the log readable.
	Fix string `json:"fix,omitempty"`
	// Log is the format and file read ("csvlog log/postgresql.csv").
	Log string `json:"log,omitempty"`
	// Total counts refusals since slotwatch started reading (the current
	// file's earlier records included); BySQLState splits it.
	Total      int64            `json:"refused_total"`
	BySQLState map[string]int64 `json:"by_sqlstate,omitempty"`
	// Last5m is the refusals logged in the last five minutes.
	Last5m int `json:"refused_last_5m"`
	// ProbeFailures5m is the connect probe's failed attempts in the last
	// five minutes.
	ProbeFailures5m int `json:"probe_failures_5m"`
}
