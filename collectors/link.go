package collectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgEndpoint is a PostgreSQL DSN parsed once: what to show and what to
// hide of it.
type pgEndpoint struct {
	dsn      string
	target   string // host:port/db, never a password
	server   string // host:port: connections to one server share slots
	user     string
	password string
}

func newEndpoint(dsn string) pgEndpoint {
	ep := pgEndpoint{dsn: dsn, target: RedactDSN(dsn), server: RedactDSN(dsn)}
	if cc, err := pgx.ParseConfig(dsn); err == nil && !hostHasAt(cc) {
		ep.target = pgTarget(&cc.Config)
		if emptyHost(dsn) {
			// Say which server the driver's default is, rather than fall
			// back silently.
			kind := "local socket"
			if !strings.HasPrefix(cc.Host, "/") {
				kind = "default host"
			}
			ep.target += fmt.Sprintf(" (%s, from an empty host)", kind)
		}
		ep.server = pgServer(&cc.Config)
		ep.user = cc.User
		ep.password = cc.Password
	}
	// A key/value DSN such as "host= password=x" makes the password the
	// host: never show what was written as a password.
	ep.target = scrub(ep.target, secretsOf(dsn)...)
	ep.server = scrub(ep.server, secretsOf(dsn)...)
	return ep
}

// pgServer is host:port of the first host (the socket directory for a
// Unix socket).
func pgServer(c *pgconn.Config) string {
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
}

// errStopped is returned by WithConn once the collectors have stopped.
var errStopped = errors.New("slotwatch has stopped collecting")

// pgLink is one kept PostgreSQL connection, shared by every collector
// that uses its DSN and by PGRunner.WithConn. mu serialises every use, so
// an action runs between two ticks on the same backend and needs no slot
// of its own.
type pgLink struct {
	mu             sync.Mutex
	ep             pgEndpoint
	appName        string
	stmtTimeout    time.Duration
	connectTimeout time.Duration
	own            *ownBackends
	// users are the roles (of this server's other DSNs: the probe's)
	// whose reserved-slot rights are read at connect, so that a later
	// refusal can be explained.
	users   []string
	conn    *pgx.Conn
	pid     uint32
	gen     uint64 // counts connections: a new one re-reads what it caches
	stopped bool
}

func newPGLink(dsn, appName string, stmtTimeout, connectTimeout time.Duration, own *ownBackends) *pgLink {
	return &pgLink{ep: newEndpoint(dsn), appName: appName, stmtTimeout: stmtTimeout,
		connectTimeout: orDuration(connectTimeout, defaultConnectTimeout), own: own}
}

// use runs fn on the link's connection, opening it first when there is
// none or it broke. check pings a kept connection first: a backend that
// was terminated, or a server that restarted, is found before fn runs
// rather than by fn's first statement.
func (l *pgLink) use(ctx context.Context, check bool, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return fmt.Errorf("%w from PostgreSQL at %s", errStopped, l.ep.target)
	}
	if check && l.conn != nil && !l.conn.IsClosed() {
		pingCtx, cancel := context.WithTimeout(ctx, l.connectTimeout)
		if err := l.conn.Ping(pingCtx); err != nil {
			l.drop()
		}
		cancel()
	}
	if err := l.ensure(ctx); err != nil {
		return err
	}
	err := fn(ctx, l.conn)
	// pgx closes a connection whose network or server session failed;
	// a statement error leaves it usable, and it is kept: at the slot
	// limit a dropped connection may not be had again.
	if l.conn.IsClosed() {
		l.drop()
	}
	return err
}

func (l *pgLink) ensure(ctx context.Context) error {
	if l.conn != nil && !l.conn.IsClosed() {
		return nil
	}
	l.drop()
	done := l.own.connecting(l.ep.server, l.appName)
	conn, err := connectPG(ctx, l.ep.dsn, l.appName, l.stmtTimeout, l.connectTimeout)
	if err == nil {
		l.own.opened(l.appName, l.ep.server, conn.PgConn().PID())
	}
	done()
	if err != nil {
		role, known := l.own.role(l.ep.server, l.ep.user)
		refusal := slotRefusal{subject: "cannot connect", target: l.ep.target, user: l.ep.user, role: role,
			known: known, held: l.own.open(l.ep.server)}
		if r := refusedForSlots(err, refusal); r != nil {
			return r
		}
		return connectFailed("", l.ep.target, err)
	}
	l.conn, l.pid = conn, conn.PgConn().PID()
	l.gen++
	l.own.opened(l.appName, l.ep.server, l.pid)
	l.learnRoles(ctx)
	l.keepBackendMemory(ctx)
	return nil
}

// backendWarmBytes is one allocation's size in the collector's backend:
// above glibc malloc's default mmap threshold and below its 32 MiB cap.
const backendWarmBytes = 16 << 20

// keepBackendMemory makes the server keep the collector backend's memory
// between ticks. Every tick reads a snapshot of all backends' status
// and pg_stat_get_activity's result into memory that glibc returns to
// the kernel when the statement ends, so each tick faulted it in again:
// page faults were most of the activity query's server time on a virtual
// machine (docs/benchmarks.md has the figures). Freeing one large block once raises glibc's
// dynamic mmap and trim thresholds for the process to 16 and 32 MiB, so
// the backend keeps its few megabytes instead. The backend is ours
// alone; on a server without glibc this is one harmless statement. Best
// effort: a failure changes only the cost.
func (l *pgLink) keepBackendMemory(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.connectTimeout)
	defer cancel()
	_, _ = l.conn.Exec(ctx, "SELECT length(repeat('x', $1::int))", backendWarmBytes)
}

// rolesQuery reads whether roles may use the reserved slots.
// pg_use_reserved_connections exists from PostgreSQL 16 on; before,
// to_regrole gives NULL and so does the strict pg_has_role.
const rolesQuery = `SELECT r.rolname::text, r.rolsuper,
  coalesce(pg_has_role(r.oid, to_regrole('pg_use_reserved_connections'), 'member'), false)
FROM pg_roles r WHERE r.rolname = ANY($1::text[])`

// learnRoles is best effort: without it a refusal is explained for both
// kinds of role.
func (l *pgLink) learnRoles(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.connectTimeout)
	defer cancel()
	rows, err := l.conn.Query(ctx, rolesQuery, append([]string{l.ep.user}, l.users...))
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var a roleAttrs
		if rows.Scan(&name, &a.superuser, &a.reserved) == nil {
			l.own.setRole(l.ep.server, name, a)
		}
	}
}

// drop closes the connection; the next use opens a new one.
func (l *pgLink) drop() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = l.conn.Close(ctx)
	l.own.closed(l.appName, l.ep.server, l.pid)
	l.conn, l.pid = nil, 0
}

// release closes the connection; the next use opens a new one.
func (l *pgLink) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drop()
}

// shutdown closes the connection for good.
func (l *pgLink) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drop()
	l.stopped = true
}

// PGRunner runs statements on the PostgreSQL collector's own connection
// (contract C2).
type PGRunner struct{ link *pgLink }

// WithConn runs fn on the collector's connection between two ticks,
// reconnecting first when the connection was closed or broken. fn must
// leave the session as it found it: an open transaction is rolled back and
// session settings are reset afterwards, since the collector goes on using
// the connection.
func (r *PGRunner) WithConn(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	if r == nil || r.link == nil {
		return errors.New("no PostgreSQL target is configured")
	}
	return r.link.use(ctx, true, func(ctx context.Context, conn *pgx.Conn) error {
		err := fn(ctx, conn)
		restoreSession(conn, r.link.connectTimeout)
		return err
	})
}

// Server is the connection's target as host:port/db, without secrets.
func (r *PGRunner) Server() string {
	if r == nil || r.link == nil {
		return ""
	}
	return r.link.ep.target
}

// restoreSession ends a transaction fn left open and resets settings to
// the connection's own (application_name, statement_timeout).
func restoreSession(conn *pgx.Conn, timeout time.Duration) {
	if conn.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if conn.PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
	_, _ = conn.Exec(ctx, "RESET ALL")
}

// hostHasAt reports whether a host name of cc has an '@': the sign of an
// unencoded '@' in a URL's password.
func hostHasAt(cc *pgx.ConnConfig) bool {
	if strings.Contains(cc.Host, "@") {
		return true
	}
	for _, fb := range cc.Fallbacks {
		if strings.Contains(fb.Host, "@") {
			return true
		}
	}
	return false
}
