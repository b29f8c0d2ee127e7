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

// DefaultTerminateTimeout is how long a terminate waits for the backends of
// a batch to exit before reporting those still there as still running.
const DefaultTerminateTimeout = 5 * time.Second

// signalStatementTimeout bounds the signalling statement itself; the
// collector's connection runs with a short statement_timeout that a slow
// server could exceed, and a statement cancelled half-way would leave the
// signals it already sent unreported.
const signalStatementTimeout = 30 * time.Second

// PGSession runs fn on a PostgreSQL connection it owns, connecting or
// reconnecting first when needed; calls are serialised. The collectors'
// runner (collectors.Set.PG()) satisfies it, so actions need no connection
// slot of their own; DialPostgres makes one over a dedicated connection.
type PGSession interface {
	WithConn(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error
	// Server names the target without credentials.
	Server() string
}

// PGConn is the real PGDriver and PGGuardDriver. It runs every statement
// through its PGSession and reads its own backend pid, role and server
// version from the connection at use time, since the session may have
// reconnected since.
type PGConn struct {
	sess  PGSession
	close func(ctx context.Context) error

	mu      sync.Mutex
	ownPID  int32
	role    string
	version int
	// TerminateTimeout bounds the wait for a batch's backends to exit.
	TerminateTimeout time.Duration
}

var _ PGDriver = (*PGConn)(nil)

// NewPGDriver makes a driver that borrows s's connection for every
// statement.
func NewPGDriver(s PGSession) *PGConn {
	return &PGConn{sess: s, TerminateTimeout: DefaultTerminateTimeout}
}

// DialPostgres opens a dedicated connection to dsn for the duration of a
// command (the CLI); the dashboard uses NewPGDriver on the collector's.
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
		return nil, ConnectError(server, cfg.User, err)
	}
	s := &ownSession{conn: conn, server: server}
	c := NewPGDriver(s)
	c.close = s.close
	if err := c.with(ctx, func(context.Context, *pgx.Conn) error { return nil }); err != nil {
		_ = s.close(ctx)
		return nil, err
	}
	return c, nil
}

// ownSession is a PGSession over one dedicated connection.
type ownSession struct {
	mu     sync.Mutex
	conn   *pgx.Conn
	server string
}

func (s *ownSession) Server() string { return s.server }

func (s *ownSession) WithConn(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn.IsClosed() {
		return fmt.Errorf("the connection to PostgreSQL on %s was closed; run the command again", s.server)
	}
	return fn(ctx, s.conn)
}

func (s *ownSession) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn.Close(ctx)
}

// ConnectError explains a failed connection. A full server (SQLSTATE 53300)
// is told apart by where the server raised it, not by its (translatable)
// message: InitPostgres refuses an ordinary role the reserved slots, while
// InitProcess finds no slot at all, superuser ones included. The server's
// own message is quoted either way.
func ConnectError(server, role string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode53300 {
		return pgConnectError(server, role, err)
	}
	var msg string
	switch pgErr.Routine {
	case "InitPostgres":
		msg = fmt.Sprintf("PostgreSQL on %s refused role %s a connection: only reserved slots are left and %s may not use them (server: %q, SQLSTATE 53300); connect as a role allowed reserved slots (a superuser, or pg_use_reserved_connections on PostgreSQL 16+), or act from an open slotwatch dashboard, which needs no new connection",
			server, role, role, pgErr.Message)
	case "InitProcess":
		msg = fmt.Sprintf("PostgreSQL on %s has no connection slot left at all, reserved ones included (server: %q, SQLSTATE 53300); every slot is held, slotwatch's own connections included: free one (close an idle psql or console) or act from an open slotwatch dashboard, which needs no new connection",
			server, pgErr.Message)
	default:
		msg = fmt.Sprintf("PostgreSQL on %s has no free connection slot for role %s (server: %q, SQLSTATE 53300); free one or act from an open slotwatch dashboard, which needs no new connection",
			server, role, pgErr.Message)
	}
	return &slotsError{msg: msg, cause: err}
}

// slotsError is a refused connection explained in one sentence; it keeps
// the driver's error for errors.As without repeating its text.
type slotsError struct {
	msg   string
	cause error
}

func (e *slotsError) Error() string { return e.msg }
func (e *slotsError) Unwrap() error { return e.cause }

const pgerrcode53300 = "53300" // too_many_connections

// Close closes a connection DialPostgres opened; a borrowed one is left to
// its owner.
func (c *PGConn) Close(ctx context.Context) error {
	if c.close == nil {
		return nil
	}
	return c.close(ctx)
}

// Server names the target as host:port/database, never with a password.
func (c *PGConn) Server() string { return c.sess.Server() }

// OwnPID is the backend pid of the connection at its last use (0 before).
// Backends marks the own row by pg_backend_pid() at read time, which is what
// the policy relies on.
func (c *PGConn) OwnPID() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownPID
}

// Role is the role the connection runs as ("" before first use).
func (c *PGConn) Role() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.role
}

// ServerVersionNum is server_version_num, e.g. 160004 (0 before first use).
func (c *PGConn) ServerVersionNum() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// with runs fn on the session's connection after noting its backend pid and,
// when the connection is new, its role and server version.
func (c *PGConn) with(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	return c.sess.WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		pid := int32(conn.PgConn().PID())
		c.mu.Lock()
		known := pid == c.ownPID && c.version != 0
		c.mu.Unlock()
		if !known {
			var role string
			var version int
			err := conn.QueryRow(ctx, `SELECT current_user, current_setting('server_version_num')::int`).Scan(&role, &version)
			if err != nil {
				return fmt.Errorf("read the role and server version on %s: %w", c.Server(), err)
			}
			c.mu.Lock()
			c.ownPID, c.role, c.version = pid, role, version
			c.mu.Unlock()
		}
		return fn(ctx, conn)
	})
}

const backendsSQL = `SELECT a.pid, a.backend_start, COALESCE(a.backend_type, ''), COALESCE(a.usename, ''),
  COALESCE(r.rolsuper, false), COALESCE(a.backend_type = 'walsender', false), COALESCE(a.application_name, ''),
  COALESCE(a.datname, ''), ` + clientExpr + `, COALESCE(a.state, ''),
  COALESCE(EXTRACT(epoch FROM now() - a.state_change)::float8, 0), COALESCE(a.query, ''),
  a.backend_start IS NULL, a.pid = pg_backend_pid()
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid`

// Backends lists every backend of pg_stat_activity.
func (c *PGConn) Backends(ctx context.Context) ([]Backend, error) {
	var out []Backend
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, backendsSQL)
		if err != nil {
			return fmt.Errorf("query pg_stat_activity: %w", err)
		}
		out, err = pgx.CollectRows(rows, scanBackend)
		if err != nil {
			return fmt.Errorf("read pg_stat_activity: %w", err)
		}
		return nil
	})
	return out, err
}

func scanBackend(row pgx.CollectableRow) (Backend, error) {
	var b Backend
	var start *time.Time
	err := row.Scan(&b.PID, &start, &b.BackendType, &b.Usename, &b.Superuser, &b.Replication,
		&b.ApplicationName, &b.Datname, &b.ClientAddr, &b.State, &b.StateSeconds, &b.Query, &b.Hidden, &b.Own)
	if start != nil {
		b.BackendStart = *start
	}
	return b, err
}

func (c *PGConn) terminateTimeout() time.Duration {
	if c.TerminateTimeout <= 0 {
		return DefaultTerminateTimeout
	}
	return c.TerminateTimeout
}

// Statement is the statement Signal runs per batch, for previews.
func (c *PGConn) Statement(kind Kind, recheck SessionFilter, protect Protection) string {
	return describeSignal(kind, recheck, protect)
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
	var ok bool
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&ok)
	})
	return ok, err
}

// RoleGuardSettings reads role-wide settings (ALTER ROLE … SET, all
// databases) from pg_db_role_setting.
func (c *PGConn) RoleGuardSettings(ctx context.Context, role string, names []string) ([]RoleSetting, error) {
	var out []RoleSetting
	err := c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT r.rolname, split_part(cfg, '=', 1), substr(cfg, strpos(cfg, '=') + 1)
FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
WHERE s.setdatabase = 0 AND ($1 = '' OR r.rolname = $1) AND split_part(cfg, '=', 1) = ANY($2)
ORDER BY 1, 2`, role, names)
		if err != nil {
			return fmt.Errorf("query pg_db_role_setting: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoleSetting, error) {
			var rs RoleSetting
			err := row.Scan(&rs.Role, &rs.Name, &rs.Value)
			return rs, err
		})
		return err
	})
	return out, err
}

// ApplyRoleSetting runs AlterRoleStatement.
func (c *PGConn) ApplyRoleSetting(ctx context.Context, role, name string, value *string) error {
	return c.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, AlterRoleStatement(role, name, value))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fmt.Errorf("permission denied: changing settings of role %s needs superuser, or CREATEROLE (with ADMIN OPTION on %s from PostgreSQL 16); %s cannot", role, role, c.Role())
		}
		if err != nil {
			return fmt.Errorf("%s: %w", AlterRoleStatement(role, name, value), err)
		}
		return nil
	})
}
