package actions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultTerminateTimeout is how long pg_terminate_backend (PostgreSQL 14+)
// waits for each backend to exit before reporting it as still running.
const DefaultTerminateTimeout = 5 * time.Second

// PGConn is the real PGDriver: one dedicated connection with
// application_name=slotwatch (protected by the default policy). It is safe
// for concurrent use: statements are serialised.
type PGConn struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	server  string
	ownPID  int32
	role    string
	version int
	// TerminateTimeout bounds each pg_terminate_backend on PostgreSQL 14+.
	TerminateTimeout time.Duration
}

var _ PGDriver = (*PGConn)(nil)

// DialPostgres opens the actions connection to dsn.
func DialPostgres(ctx context.Context, dsn string) (*PGConn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("the PostgreSQL DSN is not valid: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "slotwatch"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second // an unreachable server must not hang the command
	}
	server := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(server, err)
	}
	c := &PGConn{conn: conn, server: server, ownPID: int32(conn.PgConn().PID()), TerminateTimeout: DefaultTerminateTimeout}
	err = conn.QueryRow(ctx, `SELECT current_user, current_setting('server_version_num')::int`).Scan(&c.role, &c.version)
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("read the server version on %s: %w", server, err)
	}
	return c, nil
}

func connectError(server string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "53300" {
		return fmt.Errorf("PostgreSQL on %s has no free connection slot for the actions connection (%s); connect as a role that may use reserved slots (a superuser, or pg_use_reserved_connections on PostgreSQL 16+)", server, pgErr.Message)
	}
	return fmt.Errorf("cannot connect to PostgreSQL on %s: %w", server, err)
}

// Close closes the connection.
func (c *PGConn) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn.Close(ctx)
}

// Server names the target as host:port/database, never with a password.
func (c *PGConn) Server() string { return c.server }

// OwnPID is this connection's backend pid.
func (c *PGConn) OwnPID() int32 { return c.ownPID }

// Role is the role the connection runs as.
func (c *PGConn) Role() string { return c.role }

// ServerVersionNum is server_version_num, e.g. 160004.
func (c *PGConn) ServerVersionNum() int { return c.version }

const backendsSQL = `SELECT a.pid, a.backend_start, COALESCE(a.backend_type, ''), COALESCE(a.usename, ''),
  COALESCE(r.rolsuper, false), COALESCE(a.backend_type = 'walsender', false), COALESCE(a.application_name, ''),
  COALESCE(a.datname, ''), ` + clientExpr + `, COALESCE(a.state, ''),
  COALESCE(EXTRACT(epoch FROM now() - a.state_change)::float8, 0), COALESCE(a.query, ''),
  a.backend_start IS NULL
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid`

// Backends lists every backend of pg_stat_activity.
func (c *PGConn) Backends(ctx context.Context) ([]Backend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, err := c.conn.Query(ctx, backendsSQL)
	if err != nil {
		return nil, fmt.Errorf("query pg_stat_activity: %w", err)
	}
	var out []Backend
	for rows.Next() {
		var b Backend
		var start *time.Time
		if err := rows.Scan(&b.PID, &start, &b.BackendType, &b.Usename, &b.Superuser, &b.Replication,
			&b.ApplicationName, &b.Datname, &b.ClientAddr, &b.State, &b.StateSeconds, &b.Query, &b.Hidden); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read pg_stat_activity: %w", err)
		}
		if start != nil {
			b.BackendStart = *start
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	return out, nil
}

func (c *PGConn) timeoutMS() int64 {
	if c.version < 140000 {
		return 0 // pg_terminate_backend has no timeout before 14
	}
	if c.TerminateTimeout <= 0 {
		return DefaultTerminateTimeout.Milliseconds()
	}
	return c.TerminateTimeout.Milliseconds()
}

// Statement is the statement Signal runs per target, for previews.
func (c *PGConn) Statement(kind Kind, recheck SessionFilter) string {
	return describeSignal(kind, recheck, c.timeoutMS())
}

// Signal signals each target with one statement that re-checks identity,
// state and filter and signals in the same breath. A per-target SQL error
// (e.g. missing privilege) is that target's failure; a connection error
// stops the batch and is returned.
func (c *PGConn) Signal(ctx context.Context, kind Kind, targets []Backend, recheck SessionFilter) ([]TargetResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var args []any
	sql := signalStatement(kind, recheck, c.timeoutMS(), &args)
	out := make([]TargetResult, 0, len(targets))
	for _, t := range targets {
		args[0], args[1] = t.PID, t.BackendStart
		if len(recheck.States) == 0 {
			args[2] = nullIfEmpty(t.State)
		}
		r, err := c.signalOne(ctx, kind, sql, args, t)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (c *PGConn) signalOne(ctx context.Context, kind Kind, sql string, args []any, t Backend) (TargetResult, error) {
	r := TargetResult{ID: int64(t.PID)}
	var start *time.Time
	var state *string
	var sameBackend, sameState, matches bool
	var signalled *bool
	err := c.conn.QueryRow(ctx, sql, args...).Scan(&start, &state, &sameBackend, &sameState, &matches, &signalled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		r.Outcome, r.Reason = Gone, "already gone"
		return r, nil
	case err != nil:
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			r.Outcome, r.Reason = Failed, c.privilegeReason(kind, t, pgErr)
			return r, nil
		}
		return r, fmt.Errorf("%s pid %d: %w", kind, t.PID, err)
	case !sameBackend:
		r.Outcome, r.Reason = Skipped, fmt.Sprintf("pid %d now belongs to another backend (started %s, previewed %s)",
			t.PID, fmtTime(start), t.BackendStart.UTC().Format(time.RFC3339Nano))
	case !sameState:
		r.Outcome, r.Reason = Skipped, fmt.Sprintf("its state is now %q (%q at the preview)", deref(state), t.State)
	case !matches:
		r.Outcome, r.Reason = Skipped, "it no longer matches the filter"
	case signalled != nil && *signalled:
		r.Outcome = Done
	default:
		return c.notSignalled(ctx, kind, t)
	}
	return r, nil
}

// notSignalled explains a false from pg_cancel_backend/pg_terminate_backend:
// either the backend exited meanwhile, or (terminate with a timeout) it did
// not exit in time.
func (c *PGConn) notSignalled(ctx context.Context, kind Kind, t Backend) (TargetResult, error) {
	r := TargetResult{ID: int64(t.PID)}
	var alive bool
	err := c.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2)`,
		t.PID, t.BackendStart).Scan(&alive)
	if err != nil {
		return r, fmt.Errorf("check pid %d after %s: %w", t.PID, kind, err)
	}
	switch {
	case !alive:
		r.Outcome, r.Reason = Gone, "already gone"
	case kind == Terminate && c.timeoutMS() > 0:
		r.Outcome, r.Reason = Failed, fmt.Sprintf("still running %s after pg_terminate_backend (it returned false); it may exit later", time.Duration(c.timeoutMS())*time.Millisecond)
	default:
		r.Outcome, r.Reason = Failed, fmt.Sprintf("pg_%s_backend returned false", kind)
	}
	return r, nil
}

// privilegeReason turns a permission error into the sentence naming the
// privilege that is missing.
func (c *PGConn) privilegeReason(kind Kind, t Backend, e *pgconn.PgError) string {
	if e.Code != "42501" {
		return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
	}
	if t.Superuser {
		return fmt.Sprintf("permission denied: only a superuser may %s a superuser's session, and %s is not one", kind, c.role)
	}
	return fmt.Sprintf("permission denied: role %s needs pg_signal_backend (GRANT pg_signal_backend TO %s) or membership in role %s to %s this session",
		c.role, quoteIdent(c.role), quoteIdent(t.Usename), kind)
}

// quoteIdent quotes a role name for a statement shown to the user; plain
// lower-case names stay bare so the hint reads naturally.
func quoteIdent(s string) string {
	if plainIdent.MatchString(s) {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func fmtTime(t *time.Time) string {
	if t == nil {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var _ PGGuardDriver = (*PGConn)(nil)

func identifier(s string) string { return pgx.Identifier{s}.Sanitize() }

// RoleExists reports whether role exists.
func (c *PGConn) RoleExists(ctx context.Context, role string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ok bool
	err := c.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&ok)
	return ok, err
}

// RoleGuardSettings reads role-wide settings (ALTER ROLE … SET, all
// databases) from pg_db_role_setting.
func (c *PGConn) RoleGuardSettings(ctx context.Context, role string, names []string) ([]RoleSetting, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, err := c.conn.Query(ctx, `SELECT r.rolname, split_part(cfg, '=', 1), substr(cfg, strpos(cfg, '=') + 1)
FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
WHERE s.setdatabase = 0 AND ($1 = '' OR r.rolname = $1) AND split_part(cfg, '=', 1) = ANY($2)
ORDER BY 1, 2`, role, names)
	if err != nil {
		return nil, fmt.Errorf("query pg_db_role_setting: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoleSetting, error) {
		var rs RoleSetting
		err := row.Scan(&rs.Role, &rs.Name, &rs.Value)
		return rs, err
	})
}

// ApplyRoleSetting runs AlterRoleStatement.
func (c *PGConn) ApplyRoleSetting(ctx context.Context, role, name string, value *string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.conn.Exec(ctx, AlterRoleStatement(role, name, value))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return fmt.Errorf("permission denied: changing settings of role %s needs superuser, or CREATEROLE (with ADMIN OPTION on %s from PostgreSQL 16); %s cannot", role, role, c.role)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", AlterRoleStatement(role, name, value), err)
	}
	return nil
}
