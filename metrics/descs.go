package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the metric descriptions, built once per exporter.
type descs struct {
	skipped *prometheus.Desc

	// postgres_exporter-compatible.
	pgUp, pgActivity, pgMaxConn, pgSuperuserReserved, pgReserved *prometheus.Desc
	// redis_exporter-compatible.
	redisUp, redisClients, redisMaxClients, redisBlocked, redisRejected, redisReceived *prometheus.Desc

	sourceUp, sourceLastGood, snapshotTime                                       *prometheus.Desc
	slotsUsed, slotsUsable, ownConns, sessions, lockWaiters                      *prometheus.Desc
	groupSessions, groupIdle, groupOldestIdle, groupOldestBackend                *prometheus.Desc
	probeSuccess, probeOutcome, probeSeconds, probeTime                          *prometheus.Desc
	redisGroupClients, redisGroupGrowth, redisGroupMaxIdle                       *prometheus.Desc
	jobsOver, jobExcess                                                          *prometheus.Desc
	alertState, alertValue, findings, externalAlerts, externalRuleInactiveAtRisk *prometheus.Desc
	// pgbouncer_exporter-compatible.
	bouncerUp, bouncerClActive, bouncerClWaiting, bouncerSvActive, bouncerSvIdle, bouncerSvUsed, bouncerMaxWait *prometheus.Desc
	bouncerMaxClientConn, bouncerPoolSize                                                                       *prometheus.Desc
	// Redis Cluster nodes.
	redisNodeUp, redisNodeClients, redisNodeMaxClients *prometheus.Desc
	// The primary PostgreSQL server's refused connections, from its log.
	pgRefused *prometheus.Desc
}

var (
	groupLabels      = []string{"datname", "usename", "application_name"}
	redisGroupLabels = []string{"host", "name", "lib_name"}
	poolLabels       = []string{"database", "user"}
)

// serverLabel names the server of a series when several are watched
// (Snapshot.Servers); a single target's series do not carry it.
const serverLabel = "server"

// newDescs builds the descriptions with extra label names after each
// metric's own: none for a single target, serverLabel for several
// servers (the emitter then appends the server's name last).
func newDescs(extra ...string) *descs {
	g := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(labels[:len(labels):len(labels)], extra...), nil)
	}
	return &descs{
		skipped: g("slotwatch_exporter_frames_skipped_total", "Frames replaced in the /metrics mailbox before a scrape read them."),

		pgUp:                g("pg_up", "Whether slotwatch's latest PostgreSQL sample succeeded (1) or not (0)."),
		pgActivity:          g("pg_stat_activity_count", "Client backends by database, state, user and application (top groups; the rest as usename/application_name \"other\"); every state is present, zero-filled.", "datname", "state", "usename", "application_name"),
		pgMaxConn:           g("pg_settings_max_connections", "PostgreSQL setting max_connections."),
		pgSuperuserReserved: g("pg_settings_superuser_reserved_connections", "PostgreSQL setting superuser_reserved_connections."),
		pgReserved:          g("pg_settings_reserved_connections", "PostgreSQL 16+ setting reserved_connections."),

		redisUp:         g("redis_up", "Whether slotwatch's latest Redis sample succeeded (1) or not (0)."),
		redisClients:    g("redis_connected_clients", "Redis INFO connected_clients."),
		redisMaxClients: g("redis_config_maxclients", "Redis CONFIG maxclients (redis_exporter's name)."),
		redisBlocked:    g("redis_blocked_clients", "Redis INFO blocked_clients."),
		redisRejected:   g("redis_rejected_connections_total", "Redis INFO rejected_connections."),
		redisReceived:   g("redis_connections_received_total", "Redis INFO total_connections_received."),

		sourceUp:       g("slotwatch_source_up", "Whether the source's latest sample succeeded (1) or failed (0); absent when not configured.", "source"),
		sourceLastGood: g("slotwatch_source_last_good_timestamp_seconds", "When the source last answered (Unix seconds).", "source"),
		snapshotTime:   g("slotwatch_snapshot_timestamp_seconds", "When the exported snapshot was taken (Unix seconds)."),

		slotsUsed:          g("slotwatch_pg_slots_used", "Connection slots taken, slotwatch's own connections included."),
		slotsUsable:        g("slotwatch_pg_slots_usable", "Slots an ordinary role can take: max_connections minus superuser-reserved and reserved."),
		ownConns:           g("slotwatch_pg_own_connections", "slotwatch's own connections to the server (left out of pg_stat_activity_count)."),
		sessions:           g("slotwatch_pg_sessions", "Client backends listed, slotwatch's own left out."),
		lockWaiters:        g("slotwatch_pg_lock_waiters", "Sessions waiting on a heavyweight lock."),
		groupSessions:      g("slotwatch_pg_group_sessions", "Sessions per (database, user, application) group; top groups, the rest as \"other\".", groupLabels...),
		groupIdle:          g("slotwatch_pg_group_idle_sessions", "Idle sessions per group.", groupLabels...),
		groupOldestIdle:    g("slotwatch_pg_group_oldest_idle_seconds", "Longest time a session of the group has been idle.", groupLabels...),
		groupOldestBackend: g("slotwatch_pg_group_oldest_backend_seconds", "Age of the group's oldest connection.", groupLabels...),

		pgRefused:    g("slotwatch_pg_connections_refused_total", "Connections the PostgreSQL server refused (FATAL at connection: 53300, 28P01, 28000, 3D000, 57P03, 42501), read from its own log since slotwatch started; absent while the log is not readable.", "sqlstate"),
		probeSuccess: g("slotwatch_probe_success", "Whether the latest connect probe got a connection (1) or not (0)."),
		probeOutcome: g("slotwatch_probe_outcome", "1 for the SQLSTATE of the latest connect probe (00000 = connected), 0 for the others; 00000 and 53300 are always present.", "sqlstate"),
		probeSeconds: g("slotwatch_probe_connect_seconds", "How long the latest connect probe took, by its SQLSTATE.", "sqlstate"),
		probeTime:    g("slotwatch_probe_timestamp_seconds", "When the latest connect probe ran (Unix seconds)."),

		redisGroupClients: g("slotwatch_redis_group_clients", "Redis clients per (host, folded name, library) group; top groups, the rest as \"other\".", redisGroupLabels...),
		redisGroupGrowth:  g("slotwatch_redis_group_growth_per_minute", "Change of the group's client count per minute over the trend window (present after 30 s of history).", redisGroupLabels...),
		redisGroupMaxIdle: g("slotwatch_redis_group_max_idle_seconds", "Longest idle time of a client of the group.", redisGroupLabels...),

		jobsOver:  g("slotwatch_jobs_over_capacity", "Rows whose count exceeds their limit."),
		jobExcess: g("slotwatch_job_over_capacity_excess", "How far a row is over its limit (top rows by excess, the rest summed as job \"other\").", "job"),

		alertState:           g("slotwatch_alert_state", "1 for the built-in alert's current state, 0 for the others.", "alertname", "state"),
		alertValue:           g("slotwatch_alert_value", "The value the built-in alert's rule compares with its threshold.", "alertname"),
		findings:             g("slotwatch_findings", "Open findings (likely root causes) by kind; a cleared finding is not counted.", "kind"),
		externalAlerts:       g("slotwatch_external_alerts", "The team's alerts (Alertmanager/Prometheus) for the watched databases, by state.", "state"),
		bouncerUp:            g("pgbouncer_up", "Whether slotwatch's latest pgbouncer sample succeeded (1) or not (0)."),
		bouncerClActive:      g("pgbouncer_pools_client_active_connections", "SHOW POOLS cl_active per pool (top pools by clients, the rest as \"other\").", poolLabels...),
		bouncerClWaiting:     g("pgbouncer_pools_client_waiting_connections", "SHOW POOLS cl_waiting per pool.", poolLabels...),
		bouncerSvActive:      g("pgbouncer_pools_server_active_connections", "SHOW POOLS sv_active per pool.", poolLabels...),
		bouncerSvIdle:        g("pgbouncer_pools_server_idle_connections", "SHOW POOLS sv_idle per pool.", poolLabels...),
		bouncerSvUsed:        g("pgbouncer_pools_server_used_connections", "SHOW POOLS sv_used per pool.", poolLabels...),
		bouncerMaxWait:       g("pgbouncer_pools_client_maxwait_seconds", "How long the pool's oldest waiting client has waited.", poolLabels...),
		bouncerMaxClientConn: g("pgbouncer_config_max_client_connections", "pgbouncer setting max_client_conn."),
		bouncerPoolSize:      g("slotwatch_pgbouncer_default_pool_size", "pgbouncer setting default_pool_size."),

		redisNodeUp:         g("slotwatch_redis_node_up", "Whether the Redis Cluster node's latest sample succeeded (1) or not (0).", "node"),
		redisNodeClients:    g("slotwatch_redis_node_connected_clients", "INFO connected_clients of one Redis Cluster node (each node refuses at its own maxclients).", "node"),
		redisNodeMaxClients: g("slotwatch_redis_node_max_clients", "maxclients of one Redis Cluster node.", "node"),

		externalRuleInactiveAtRisk: g("slotwatch_external_rule_silent", "1 when a connection-use rule of the team's Prometheus is inactive while slotwatch's value is over its threshold.", "rule"),
	}
}
