package collectors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// settingsTTL is how long the slot settings are cached: they only change
// with a restart.
const settingsTTL = 30 * time.Second

// settingsQuery reads the slot settings; reserved_connections exists from
// PostgreSQL 16 on and reads as NULL before.
const settingsQuery = `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
  current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
  coalesce(current_setting('reserved_connections', true), '0')::int,
  current_user, pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')`

// HiddenState is the by_state key of sessions whose state the monitoring
// role may not see.
const HiddenState = "hidden"

type pgSettings struct {
	version             string
	versionNum          int
	maxConnections      int
	superuserReserved   int
	reservedConnections int
	role                string
	readsAllStats       bool
	readAt              time.Time
}

type pgCollector struct {
	cfg      PGConfig
	link     *pgLink
	gen      uint64 // the link connection the settings were read on
	names    pgNames
	waits    *waitGraph
	settings pgSettings
	lastGood *PGStats
	// known is every backend's last whole row; text, addrs and lastRows
	// make a tick's scan allocate only what is new since the last one.
	known    knownRows
	text     interner
	addrs    addrNames
	lastRows int
}

// newPGCollector collects on its own link; own may be nil.
func newPGCollector(cfg PGConfig, own *ownBackends) *pgCollector {
	return newPGCollectorOn(cfg, newPGLink(cfg.DSN, "slotwatch", cfg.StatementTimeout, cfg.ConnectTimeout, own))
}

func newPGCollectorOn(cfg PGConfig, link *pgLink) *pgCollector {
	return &pgCollector{cfg: cfg, link: link, waits: newWaitGraph()}
}

func (c *pgCollector) interval() time.Duration { return c.cfg.Interval }

// close leaves the link to its owner (the Set), which closes it once
// every collector on it has stopped.
func (c *pgCollector) close() {}

func (c *pgCollector) collect(ctx context.Context) func(*Snapshot) {
	now := time.Now()
	stats, err := c.sample(ctx, now)
	if err != nil {
		msg := scrub(err.Error(), c.link.ep.password)
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

// failed returns the last good sample re-stamped, or nil when the source
// has never answered: a DOWN source has no numbers (contract C3).
func (c *pgCollector) failed(now time.Time) *PGStats {
	if c.lastGood == nil {
		return nil
	}
	st := *c.lastGood
	st.SampledAt = now
	return &st
}

func (c *pgCollector) sample(ctx context.Context, now time.Time) (*PGStats, error) {
	var st *PGStats
	err := c.link.use(ctx, false, func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		st, err = c.sampleOn(ctx, conn, now)
		return err
	})
	return st, err
}

func (c *pgCollector) sampleOn(ctx context.Context, conn *pgx.Conn, now time.Time) (*PGStats, error) {
	if c.gen != c.link.gen {
		c.gen, c.settings.readAt = c.link.gen, time.Time{}
	}
	// The server's statement_timeout is the first guard; this deadline also
	// covers a dead network and pgbouncer, which refuses that setting.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StatementTimeout+time.Second)
	defer cancel()
	if now.Sub(c.settings.readAt) > settingsTTL {
		if err := c.readSettings(ctx, conn, now); err != nil {
			return nil, c.queryFailed("read the connection settings", err)
		}
		if err := c.names.read(ctx, conn, now); err != nil {
			return nil, c.queryFailed("read the database and role names", err)
		}
	}
	sessions, err := c.readActivity(ctx, conn)
	var noDB *noSuchDatabase
	if errors.As(err, &noDB) {
		return nil, err
	}
	if err != nil {
		return nil, c.queryFailed("read pg_stat_activity", err)
	}
	sessions, others := withoutOwn(sessions, c.link.own.pids(c.link.ep.server), c.link.own.startingApps(c.link.ep.server))
	st := &PGStats{
		Sample:                       Sample{SampledAt: now, LastGoodAt: now},
		Target:                       c.link.ep.target,
		ServerVersion:                c.settings.version,
		ServerVersionNum:             c.settings.versionNum,
		MaxConnections:               c.settings.maxConnections,
		SuperuserReservedConnections: c.settings.superuserReserved,
		ReservedConnections:          c.settings.reservedConnections,
		OwnConnections:               1 + others,
		Sessions:                     sessions,
		Role:                         c.settings.role,
		ReadsAllStats:                c.settings.readsAllStats,
	}
	Summarize(st)
	return st, nil
}

// withoutOwn drops the backends of this process's other connections (jobs,
// probe) and says how many there were.
// A backend of a connection still being opened (its pid not yet known) is
// told by its application_name alone, whatever state it already reports:
// the connection may have finished opening a moment before its pid was
// registered. A client that copied the name is left out only in that moment.
func withoutOwn(sessions []Session, own []int32, startingApps []string) ([]Session, int) {
	if len(own) == 0 && len(startingApps) == 0 {
		return sessions, 0
	}
	n := len(sessions)
	sessions = slices.DeleteFunc(sessions, func(s Session) bool {
		return slices.Contains(own, s.PID) || (!s.Hidden && slices.Contains(startingApps, s.ApplicationName))
	})
	return sessions, n - len(sessions)
}

func (c *pgCollector) queryFailed(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("PostgreSQL at %s did not answer in time (%s): %w", c.link.ep.target, what, err)
	}
	return fmt.Errorf("cannot %s on PostgreSQL at %s: %s", what, c.link.ep.target, pgErrorText(err))
}

func (c *pgCollector) readSettings(ctx context.Context, conn *pgx.Conn, now time.Time) error {
	s := &c.settings
	err := conn.QueryRow(ctx, settingsQuery).Scan(&s.version, &s.versionNum, &s.maxConnections,
		&s.superuserReserved, &s.reservedConnections, &s.role, &s.readsAllStats)
	if err != nil {
		return err
	}
	s.readAt = now
	return nil
}

// readActivity reads the sessions and names their database and role,
// refreshing the names once when a session has an oid not seen before.
func (c *pgCollector) readActivity(ctx context.Context, conn *pgx.Conn) ([]Session, error) {
	dbFilter := int64(-1)
	if c.cfg.DB != "" {
		oid, err := c.databaseOID(ctx, conn)
		if err != nil {
			return nil, err
		}
		dbFilter = int64(oid)
	}
	sessions, datids, roleids, stateChanges, err := c.queryActivity(ctx, conn, dbFilter)
	if err != nil {
		return nil, err
	}
	c.waits.lockPass = c.settings.versionNum >= lockPassMinVersion
	if err := c.waits.fill(ctx, conn, sessions, stateChanges, time.Now()); err != nil {
		return nil, err
	}
	if !c.names.knows(datids, roleids) {
		if err := c.names.read(ctx, conn, time.Now()); err != nil {
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

// databaseOID is the oid of the database the sessions are restricted to,
// re-reading the names once when it is not known (created since); a
// database that does not exist is an error, never an empty server.
func (c *pgCollector) databaseOID(ctx context.Context, conn *pgx.Conn) (uint32, error) {
	if oid := c.names.databaseOID(c.cfg.DB); oid != 0 {
		return oid, nil
	}
	if err := c.names.read(ctx, conn, time.Now()); err != nil {
		return 0, err
	}
	if oid := c.names.databaseOID(c.cfg.DB); oid != 0 {
		return oid, nil
	}
	names := slices.Sorted(maps.Values(c.names.databases))
	return 0, &noSuchDatabase{msg: fmt.Sprintf("database %s does not exist on %s; watch one of %s, or all databases",
		c.cfg.DB, c.link.ep.server, strings.Join(names, ", "))}
}

// noSuchDatabase is a database filter naming no database of the server.
type noSuchDatabase struct{ msg string }

func (e *noSuchDatabase) Error() string { return e.msg }

// isProtocolViolation is pgbouncer's refusal of a startup parameter it
// does not track (SQLSTATE 08P01).
func isProtocolViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "08P01"
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
	if err != nil && !userSet && statementTimeout > 0 && isProtocolViolation(err) {
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
	if scheme, _, isURL := strings.Cut(dsn, "://"); isURL && !strings.ContainsAny(scheme, " =") {
		if low := strings.ToLower(scheme); low != "postgres" && low != "postgresql" {
			return nil, &InvalidTargetError{fmt.Sprintf("the %s %s has the scheme %s, which is not PostgreSQL's; write postgres://…, postgresql://… or key=value settings",
				what, RedactDSN(dsn), scheme)}
		}
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, invalidTarget(what, dsn, unwrapParse(err))
	}
	if hostHasAt(cc) {
		// pgx splits the user info at the first '@': the rest of the
		// password became the host name.
		return nil, &InvalidTargetError{fmt.Sprintf("the %s %s is not valid: %s; fix it and try again", what, RedactDSN(dsn), encodeAdvice('@'))}
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

// pgTarget is host:port/db of the first host (socket directory:port/db for
// a Unix socket), never the password.
func pgTarget(c *pgconn.Config) string {
	return pgServer(c) + "/" + c.Database
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
	if msg, ok := ConnectRefusal(target, err); ok {
		if who != "" {
			msg = who + ": " + msg
		}
		return errors.New(msg)
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
