package collectors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// settingsTTL is how long the slot settings are cached: they only change
// with a restart.
const settingsTTL = 30 * time.Second

// activityQuery returns every client backend in one round trip, from
// pg_stat_get_activity (what the pg_stat_activity view reads; names come
// from pgNames). Rows the role may not see have a NULL backend_type; those
// with a role and a database are kept as client backends (an autovacuum or
// parallel worker of another role can slip in for its few seconds; the
// launchers and writers have no database and stay out). pg_blocking_pids
// takes the lock manager's partition locks, so it runs only for sessions
// actually waiting on a heavyweight lock. $1 is a database oid, or -1 for
// all databases; $2 the pids of slotwatch's other connections.
const activityQuery = `SELECT pid, backend_start, coalesce(datid, 0), coalesce(usesysid, 0),
  coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''),
  coalesce(date_part('epoch', now() - backend_start), 0),
  coalesce(date_part('epoch', now() - state_change), 0),
  coalesce(date_part('epoch', now() - xact_start), 0),
  coalesce(date_part('epoch', now() - query_start), 0),
  coalesce(wait_event_type, ''), coalesce(wait_event, ''),
  CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END,
  coalesce(query, ''), backend_type IS NULL
FROM pg_stat_get_activity(NULL)
WHERE (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL AND datid IS NOT NULL))
  AND pid <> pg_backend_pid() AND pid <> ALL($2::int[])
  AND ($1::int8 < 0 OR datid::int8 = $1::int8)`

// settingsQuery reads the slot settings; reserved_connections exists from
// PostgreSQL 16 on and reads as NULL before.
const settingsQuery = `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
  current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
  coalesce(current_setting('reserved_connections', true), '0')::int`

// HiddenState is the by_state key of sessions whose state the monitoring
// role may not see.
const HiddenState = "hidden"

type pgSettings struct {
	version             string
	versionNum          int
	maxConnections      int
	superuserReserved   int
	reservedConnections int
	readAt              time.Time
}

type pgCollector struct {
	cfg      PGConfig
	own      *ownBackends
	names    pgNames
	target   string
	password string
	conn     *pgx.Conn
	settings pgSettings
	lastGood *PGStats
}

func newPGCollector(cfg PGConfig, own *ownBackends) *pgCollector {
	c := &pgCollector{cfg: cfg, own: own, target: RedactDSN(cfg.DSN)}
	if cc, err := pgx.ParseConfig(cfg.DSN); err == nil {
		c.target = pgTarget(&cc.Config)
		c.password = cc.Password
	}
	return c
}

func (c *pgCollector) interval() time.Duration { return c.cfg.Interval }

func (c *pgCollector) close() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.conn.Close(ctx)
		c.conn = nil
	}
}

func (c *pgCollector) collect(ctx context.Context) func(*Snapshot) {
	now := time.Now()
	stats, err := c.sample(ctx, now)
	if err != nil {
		msg := scrub(err.Error(), c.password)
		last := c.failed(now)
		return func(s *Snapshot) {
			s.Postgres = last
			s.Errors[SourcePostgres] = msg
		}
	}
	c.lastGood = stats
	return func(s *Snapshot) {
		s.Postgres = stats
		delete(s.Errors, SourcePostgres)
	}
}

// failed returns the last good sample re-stamped, or an empty one: a failing
// source still appears, with its error.
func (c *pgCollector) failed(now time.Time) *PGStats {
	var st PGStats
	if c.lastGood != nil {
		st = *c.lastGood
	} else {
		st = PGStats{Target: c.target, ByState: map[string]int{}, Sessions: []Session{}, Groups: []SessionGroup{}}
	}
	st.SampledAt = now
	return &st
}

func (c *pgCollector) sample(ctx context.Context, now time.Time) (*PGStats, error) {
	if err := c.ensureConn(ctx); err != nil {
		return nil, err
	}
	// The server's statement_timeout is the first guard; this deadline also
	// covers a dead network and pgbouncer, which refuses that setting.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StatementTimeout+time.Second)
	defer cancel()
	if now.Sub(c.settings.readAt) > settingsTTL {
		if err := c.readSettings(ctx, now); err != nil {
			return nil, c.queryFailed("read the connection settings", err)
		}
		if err := c.names.read(ctx, c.conn, now); err != nil {
			return nil, c.queryFailed("read the database and role names", err)
		}
	}
	ownPIDs := c.own.list()
	sessions, err := c.readActivity(ctx, ownPIDs)
	if err != nil {
		return nil, c.queryFailed("read pg_stat_activity", err)
	}
	st := &PGStats{
		Sample:                       Sample{SampledAt: now, LastGoodAt: now},
		Target:                       c.target,
		ServerVersion:                c.settings.version,
		ServerVersionNum:             c.settings.versionNum,
		MaxConnections:               c.settings.maxConnections,
		SuperuserReservedConnections: c.settings.superuserReserved,
		ReservedConnections:          c.settings.reservedConnections,
		OwnConnections:               1 + len(ownPIDs),
		Sessions:                     sessions,
	}
	Summarize(st)
	return st, nil
}

// ensureConn opens the collector's one connection, or reopens it after it
// broke. Only one connection is ever open.
func (c *pgCollector) ensureConn(ctx context.Context) error {
	if c.conn != nil && !c.conn.IsClosed() {
		return nil
	}
	c.close()
	conn, err := connectPG(ctx, c.cfg.DSN, "slotwatch", c.cfg.StatementTimeout, c.cfg.ConnectTimeout)
	if err != nil {
		return connectFailed("", c.target, err)
	}
	c.conn = conn
	c.settings.readAt = time.Time{}
	return nil
}

// queryFailed drops a connection that broke so the next tick reconnects.
func (c *pgCollector) queryFailed(what string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || c.conn.IsClosed() {
		c.close()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("PostgreSQL at %s did not answer in time (%s): %w", c.target, what, err)
	}
	return fmt.Errorf("cannot %s on PostgreSQL at %s: %s", what, c.target, pgErrorText(err))
}

func (c *pgCollector) readSettings(ctx context.Context, now time.Time) error {
	s := &c.settings
	err := c.conn.QueryRow(ctx, settingsQuery).Scan(&s.version, &s.versionNum, &s.maxConnections,
		&s.superuserReserved, &s.reservedConnections)
	if err != nil {
		return err
	}
	s.readAt = now
	return nil
}

// readActivity reads the sessions and names their database and role,
// refreshing the names once when a session has an oid not seen before.
func (c *pgCollector) readActivity(ctx context.Context, ownPIDs []int32) ([]Session, error) {
	dbFilter := int64(-1)
	if c.cfg.DB != "" {
		dbFilter = int64(c.names.databaseOID(c.cfg.DB))
	}
	sessions, datids, roleids, err := c.queryActivity(ctx, dbFilter, ownPIDs)
	if err != nil {
		return nil, err
	}
	if !c.names.knows(datids, roleids) {
		if err := c.names.read(ctx, c.conn, time.Now()); err != nil {
			return nil, err
		}
		c.names.markMissing(datids, roleids)
	}
	for i := range sessions {
		sessions[i].Datname = c.names.databases[datids[i]]
		sessions[i].Usename = c.names.roles[roleids[i]]
	}
	// Sorted here rather than by the server, whose sort is a tenth of the
	// query's time at 1,000 backends.
	slices.SortFunc(sessions, func(a, b Session) int { return cmp.Compare(a.PID, b.PID) })
	return sessions, nil
}

func (c *pgCollector) queryActivity(ctx context.Context, dbFilter int64, ownPIDs []int32) (sessions []Session, datids, roleids []uint32, err error) {
	rows, err := c.conn.Query(ctx, activityQuery, dbFilter, ownPIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	sessions = make([]Session, 0, 64)
	var (
		start         pgtype.Timestamptz
		datid, roleid uint32
		blockedBy     []int32
	)
	for rows.Next() {
		sessions = append(sessions, Session{})
		s := &sessions[len(sessions)-1]
		blockedBy = nil
		if err := rows.Scan(&s.PID, &start, &datid, &roleid, &s.ApplicationName, &s.ClientAddr,
			&s.State, &s.BackendSeconds, &s.StateSeconds, &s.XactSeconds, &s.QuerySeconds, &s.WaitEventType,
			&s.WaitEvent, &blockedBy, &s.Query, &s.Hidden); err != nil {
			return nil, nil, nil, err
		}
		if start.Valid {
			s.BackendStart = start.Time
		}
		s.BlockedBy = blockedBy
		if s.BlockedBy == nil {
			s.BlockedBy = []int32{}
		}
		datids, roleids = append(datids, datid), append(roleids, roleid)
	}
	return sessions, datids, roleids, rows.Err()
}

// connectPG opens one connection named appName with a statement timeout,
// bounded by connectTimeout whatever the DSN says.
func connectPG(ctx context.Context, dsn, appName string, statementTimeout, connectTimeout time.Duration) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["application_name"] = appName
	_, userSet := cc.RuntimeParams["statement_timeout"]
	if !userSet && statementTimeout > 0 {
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(statementTimeout.Milliseconds(), 10)
	}
	connectCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(connectCtx, cc)
	if err != nil && !userSet && statementTimeout > 0 && strings.Contains(err.Error(), "unsupported startup parameter") {
		// pgbouncer refuses startup parameters it does not track; the
		// caller's context deadline still bounds every query.
		delete(cc.RuntimeParams, "statement_timeout")
		retryCtx, cancelRetry := context.WithTimeout(ctx, connectTimeout)
		defer cancelRetry()
		conn, err = pgx.ConnectConfig(retryCtx, cc)
	}
	return conn, err
}

func parsePGConfig(dsn, what string) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, invalidTarget(what, RedactDSN(dsn), unwrapParse(err))
	}
	return cc, nil
}

// unwrapParse drops pgx's "cannot parse `dsn`:" prefix, which repeats the
// (redacted) DSN we print ourselves.
func unwrapParse(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap()
	}
	return err
}

// pgTarget is host:port/db of the first host, never the password.
func pgTarget(c *pgconn.Config) string {
	host := c.Host
	if len(host) > 0 && host[0] == '/' {
		return fmt.Sprintf("%s/.s.PGSQL.%d/%s", host, c.Port, c.Database)
	}
	return fmt.Sprintf("%s/%s", net.JoinHostPort(host, strconv.Itoa(int(c.Port))), c.Database)
}

// connectFailed turns a connect error into one sentence; who is the part
// of slotwatch that connects ("", "the connect probe", "the jobs collector").
func connectFailed(who, target string, err error) error {
	subject := "cannot connect"
	if who != "" {
		subject = who + " cannot connect"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s to PostgreSQL at %s: no answer within the connect timeout; check the address and that the server is up", subject, target)
	}
	return fmt.Errorf("%s to PostgreSQL at %s: %s; check the DSN and that the server is up", subject, target, pgErrorText(err))
}

// pgErrorText is the server's message with its SQLSTATE when there is one,
// else the network error, else the driver's message.
func pgErrorText(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	return err.Error()
}
