package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slotwatch/slotwatch/actions"
)

// Marker is the comment on the drill's database and role. The drill only
// ever touches a database and role that carry it, so it can never reseed or
// load a database it did not create.
const Marker = "slotwatch drill: created by `slotwatch drill`; safe to drop"

// ErrNotOurs is returned when the named database or role exists without the
// drill's marker.
var ErrNotOurs = errors.New("not created by slotwatch drill")

// serverInfo is what the drill learns about the server before it plans.
type serverInfo struct {
	Target            string // host:port, never a password
	Port              int    // the server's own port setting
	Version           string
	MaxConnections    int
	SuperuserReserved int
	Reserved          int // PG16+ reserved_connections
	Others            int // client backends already connected (its own setup one included)
}

func (s serverInfo) usable() int { return s.MaxConnections - s.SuperuserReserved - s.Reserved }

// setup holds the administrative connection (kept to watch which sessions
// were terminated) and the template for application sessions.
type setup struct {
	server serverInfo
	app    *pgx.ConnConfig
	// pooled: the sessions connect through a pooler (Config.Through), so
	// their backend pids are the pooler's, not PostgreSQL's.
	pooled bool

	mu    sync.Mutex
	admin *pgx.Conn
}

func (s *setup) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = s.admin.Close(ctx)
		s.admin = nil
	}
}

// prepare connects, checks that the database and role are the drill's own
// (or creates them), loads the schema and seed, and returns the template
// for application sessions.
func prepare(ctx context.Context, cfg Config, out *printer) (*setup, error) {
	base, err := pgx.ParseConfig(cfg.PGDSN)
	if err != nil {
		return nil, errors.New("the drill's PostgreSQL DSN cannot be parsed; check its syntax, e.g. postgres://postgres@127.0.0.1:5432/postgres")
	}
	base.RuntimeParams["application_name"] = "slotwatch-drill"
	if base.ConnectTimeout == 0 {
		base.ConnectTimeout = 10 * time.Second
	}
	target := fmt.Sprintf("%s:%d", base.Host, base.Port)
	admin, err := pgx.ConnectConfig(ctx, base)
	if err != nil {
		return nil, actions.ConnectError(target, base.User, err)
	}
	st := &setup{admin: admin}
	if err := st.init(ctx, cfg, base, target, out); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

func (st *setup) init(ctx context.Context, cfg Config, base *pgx.ConnConfig, target string, out *printer) error {
	if err := checkDirect(ctx, st.admin, target); err != nil {
		return err
	}
	info, err := readServer(ctx, st.admin)
	if err != nil {
		return fmt.Errorf("read the connection settings of %s: %w", target, err)
	}
	info.Target = target
	st.server = info
	if err := confirm(ctx, cfg, info); err != nil {
		return err
	}
	if err := st.ensureDatabase(ctx, cfg.Database, out); err != nil {
		return err
	}
	password, err := st.ensureRole(ctx, cfg.Role, out)
	if err != nil {
		return err
	}
	if err := loadSchema(ctx, base, cfg.Database, cfg.Role); err != nil {
		return err
	}
	app := base.Copy()
	app.Database = cfg.Database
	via := ""
	if cfg.Through != "" {
		if app, err = pooledConfig(cfg); err != nil {
			return err
		}
		st.pooled = true
		via = fmt.Sprintf(" through the pooler at %s:%d (database %s)", app.Host, app.Port, app.Database)
	}
	app.User, app.Password = cfg.Role, password
	app.RuntimeParams = map[string]string{"application_name": AppName}
	st.app = app
	out.printf("database %s on %s (PostgreSQL %s) loaded with the TalentFlow schema and seed; sessions connect as role %s%s",
		cfg.Database, target, info.Version, cfg.Role, via)
	out.printf("to watch it as the application sees it, set in slotwatch's config: probe.dsn: postgres://%s@%s/%s (the role's password is random: this needs trust auth or a password you set) and jobs.dsn: the drill's PostgreSQL DSN with database %s",
		cfg.Role, target, cfg.Database, cfg.Database)
	if st.pooled {
		out.printf("the pooler's side: set pgbouncer: postgres://ADMIN@%s:%d/pgbouncer (a user of its admin_users or stats_users) to see the drill's clients waiting for its pool",
			app.Host, app.Port)
	}
	return nil
}

// checkDirect refuses a PGDSN that leads through a connection pooler: the
// drill tells its sessions apart and watches its lock waits by backend pid,
// and a pooler hands its clients keys of its own (the BackendKeyData pid
// then differs from pg_backend_pid()).
func checkDirect(ctx context.Context, c *pgx.Conn, target string) error {
	var pid uint32
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return fmt.Errorf("read the backend pid on %s: %w", target, err)
	}
	if pid != c.PgConn().PID() {
		return fmt.Errorf("the drill's PostgreSQL DSN (%s) leads through a connection pooler; give PostgreSQL itself as the drill's server and the pooler as its pooler DSN", target)
	}
	return nil
}

// pooledConfig is the sessions' connection through the pooler. It uses the
// simple query protocol: pgbouncer in transaction mode hands each
// transaction any server connection, where a prepared statement of another
// transaction does not exist (pgbouncer before 1.21 cannot track them).
func pooledConfig(cfg Config) (*pgx.ConnConfig, error) {
	app, err := pgx.ParseConfig(cfg.Through)
	if err != nil {
		return nil, errors.New("the drill's pooler DSN cannot be parsed; check its syntax, e.g. postgres://127.0.0.1:6432/talentflow_drill")
	}
	if app.Database == "" {
		app.Database = cfg.Database
	}
	if app.ConnectTimeout == 0 {
		app.ConnectTimeout = 10 * time.Second
	}
	app.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return app, nil
}

// checkRoute connects once through the pooler and checks that its pool
// leads to the drill's database on the drill's server: the sessions must
// load the database the drill created and marked, nothing else.
func (d *Drill) checkRoute(ctx context.Context) error {
	app := d.setup.app
	where := fmt.Sprintf("the pooler at %s:%d", app.Host, app.Port)
	ctx, cancel := d.poolWait(ctx)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, app.Copy())
	if err != nil {
		return fmt.Errorf("cannot connect as %s through %s to database %s: %w; check the pooler DSN and that the pooler lets the drill's role in (auth_query, or the role in its auth_file)",
			app.User, where, app.Database, connectCause(err))
	}
	defer c.Close(context.WithoutCancel(ctx))
	var db string
	var port int
	if err := c.QueryRow(ctx, "SELECT current_database(), coalesce(inet_server_port(), current_setting('port')::int)").Scan(&db, &port); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s gave the drill no server connection in %s; check that its pool %s is not full", where, poolWaitLimit, app.Database)
		}
		return fmt.Errorf("read the database behind %s: %w", where, err)
	}
	if db != d.cfg.Database {
		return fmt.Errorf("the pool %s of %s leads to database %s, not the drill's %s; point the pooler DSN at a pool of %s (pgbouncer: %s = host=… dbname=%s)",
			app.Database, where, db, d.cfg.Database, d.cfg.Database, d.cfg.Database, d.cfg.Database)
	}
	if port != d.server.Port {
		return fmt.Errorf("the pool %s of %s leads to a PostgreSQL on port %d, not the drill's server %s; point the pooler DSN at a pooler in front of it", app.Database, where, port, d.server.Target)
	}
	return nil
}

func readServer(ctx context.Context, c *pgx.Conn) (serverInfo, error) {
	var info serverInfo
	var maxConn, suRes, res string
	err := c.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('max_connections'),
		current_setting('superuser_reserved_connections'), coalesce(current_setting('reserved_connections', true), '0'),
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
		coalesce(inet_server_port(), current_setting('port')::int)`).
		Scan(&info.Version, &maxConn, &suRes, &res, &info.Others, &info.Port)
	if err != nil {
		return info, err
	}
	info.MaxConnections, _ = strconv.Atoi(maxConn)
	info.SuperuserReserved, _ = strconv.Atoi(suRes)
	info.Reserved, _ = strconv.Atoi(res)
	return info, nil
}

// ensureDatabase creates the drill database, or accepts an existing one only
// if it carries the marker.
func (st *setup) ensureDatabase(ctx context.Context, name string, out *printer) error {
	var comment *string
	err := st.admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := st.admin.Exec(ctx, "CREATE DATABASE "+quoteIdent(name)); err != nil {
			return fmt.Errorf("create the drill database %s: %w; the drill's PostgreSQL user needs CREATEDB", name, err)
		}
		if _, err := st.admin.Exec(ctx, "COMMENT ON DATABASE "+quoteIdent(name)+" IS "+quoteLiteral(Marker)); err != nil {
			return fmt.Errorf("mark the drill database %s: %w", name, err)
		}
		out.printf("created database %s", name)
		return nil
	case err != nil:
		return fmt.Errorf("look up database %s: %w", name, err)
	case comment == nil || *comment != Marker:
		return fmt.Errorf("refusing to run: the database %s exists and was %w (it lacks the drill's marker comment); the drill only loads a database it created itself: choose another drill database name", name, ErrNotOurs)
	}
	return nil
}

// ensureRole creates the application's role (never a superuser, so it meets
// the reserved slots as the application does) or accepts an existing one
// only if it carries the marker, and gives it a fresh random password that
// is never printed.
func (st *setup) ensureRole(ctx context.Context, name string, out *printer) (string, error) {
	password, err := randomPassword()
	if err != nil {
		return "", err
	}
	var comment *string
	var super bool
	err = st.admin.QueryRow(ctx, `SELECT rolsuper, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, name).Scan(&super, &comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := st.admin.Exec(ctx, "CREATE ROLE "+quoteIdent(name)+" LOGIN NOSUPERUSER"); err != nil {
			return "", fmt.Errorf("create the drill role %s: %w; the drill's PostgreSQL user needs CREATEROLE", name, err)
		}
		if _, err := st.admin.Exec(ctx, "COMMENT ON ROLE "+quoteIdent(name)+" IS "+quoteLiteral(Marker)); err != nil {
			return "", fmt.Errorf("mark the drill role %s: %w", name, err)
		}
		out.printf("created role %s (LOGIN, not a superuser)", name)
	case err != nil:
		return "", fmt.Errorf("look up role %s: %w", name, err)
	case comment == nil || *comment != Marker:
		return "", fmt.Errorf("refusing to run: the role %s exists and was %w (it lacks the drill's marker comment); choose another drill role name", name, ErrNotOurs)
	case super:
		return "", fmt.Errorf("refusing to run: the drill role %s is a superuser, so it would use the reserved slots the application cannot; run ALTER ROLE %s NOSUPERUSER", name, name)
	}
	if _, err := st.admin.Exec(ctx, "ALTER ROLE "+quoteIdent(name)+" PASSWORD "+quoteLiteral(password)); err != nil {
		return "", fmt.Errorf("set the password of the drill role %s: %w", name, err)
	}
	return password, nil
}

func loadSchema(ctx context.Context, base *pgx.ConnConfig, db, role string) error {
	cfg := base.Copy()
	cfg.Database = db
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to the drill database %s: %w", db, connectCause(err))
	}
	defer c.Close(context.WithoutCancel(ctx))
	steps := []struct{ what, sql string }{
		{"limit lock waits", "SET lock_timeout = '5s'"},
		{"load the schema", Schema},
		{"load the seed data", Seed},
		{"grant the drill role access", fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %[1]s; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %[1]s", quoteIdent(role))},
	}
	for _, s := range steps {
		if _, err := c.Exec(ctx, s.sql); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "55P03" {
				return fmt.Errorf("cannot %s in %s: another drill still holds its locks; stop it (Ctrl-C) and run again", s.what, db)
			}
			return fmt.Errorf("%s in %s: %w", s.what, db, err)
		}
	}
	return nil
}

// planSessions scales the incident (92 of 100: 77 idle, 3 idle in
// transaction, 15 active of which most wait on a lock) to this server. At
// least 5 sessions wait on the lock, the default threshold of the
// PostgresLockWaits alert.
func planSessions(cfg Config, info serverInfo) (Plan, error) {
	p := Plan{MaxConnections: info.MaxConnections, Usable: info.usable()}
	free := p.Usable - info.Others
	total := cfg.Connections
	if total == 0 {
		total = int(math.Round(0.92*float64(p.Usable))) - info.Others
	}
	if cfg.Through != "" {
		// Through a pooler the sessions are its clients: they hold no slot
		// of PostgreSQL's unless the pool gives them a server connection.
		free = maxSessions
	}
	total = min(total, free, maxSessions)
	if total < minSessions {
		return p, fmt.Errorf("the server has only %d free non-reserved slots of %d usable; the drill needs at least %d: raise max_connections or close other sessions", free, p.Usable, minSessions)
	}
	p.IdleInTx = max(2, round(0.03*float64(total)))
	p.Waiters = max(min(5, total/4), round(0.13*float64(total)))
	p.Active = max(1, round(0.03*float64(total)))
	p.Idle = total - p.IdleInTx - p.Waiters - p.Active
	return p, nil
}

func round(f float64) int { return int(math.Round(f)) }

func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a password for the drill role: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// connectCause keeps the server's own sentence (e.g. "remaining connection
// slots are reserved ...") and drops pgx's prefix, which names the user and
// database already named by the caller.
func connectCause(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	return err
}

// Drop removes the drill database and role, only if both carry the marker:
// the end of a game day, or a clean slate for the next one. A drill still
// running against them loses its sessions.
func Drop(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if cfg.PGDSN == "" || !validName(cfg.Database) || !validName(cfg.Role) {
		return cfg.validate()
	}
	base, err := pgx.ParseConfig(cfg.PGDSN)
	if err != nil {
		return errors.New("the drill's PostgreSQL DSN cannot be parsed; check its syntax, e.g. postgres://postgres@127.0.0.1:5432/postgres")
	}
	base.RuntimeParams["application_name"] = "slotwatch-drill"
	target := fmt.Sprintf("%s:%d", base.Host, base.Port)
	c, err := pgx.ConnectConfig(ctx, base)
	if err != nil {
		return actions.ConnectError(target, base.User, err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	out := &printer{w: cfg.Out}
	var comment *string
	err = c.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, cfg.Database).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		out.printf("no database %s on %s: nothing to drop", cfg.Database, target)
	case err != nil:
		return fmt.Errorf("look up database %s: %w", cfg.Database, err)
	case comment == nil || *comment != Marker:
		return fmt.Errorf("refusing to drop: the database %s was %w (it lacks the drill's marker comment)", cfg.Database, ErrNotOurs)
	default:
		// Close the drill's sessions first (DROP DATABASE … WITH (FORCE) is
		// PostgreSQL 13+ only).
		if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, cfg.Database); err != nil {
			return fmt.Errorf("close the sessions of %s: %w", cfg.Database, err)
		}
		if _, err := c.Exec(ctx, "DROP DATABASE "+quoteIdent(cfg.Database)); err != nil {
			return fmt.Errorf("drop database %s: %w", cfg.Database, err)
		}
		out.printf("dropped database %s", cfg.Database)
	}
	err = c.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, cfg.Role).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("look up role %s: %w", cfg.Role, err)
	case comment == nil || *comment != Marker:
		return fmt.Errorf("refusing to drop: the role %s was %w (it lacks the drill's marker comment)", cfg.Role, ErrNotOurs)
	}
	if _, err := c.Exec(ctx, "DROP ROLE "+quoteIdent(cfg.Role)); err != nil {
		return fmt.Errorf("drop role %s: %w; it may still own objects in another database", cfg.Role, err)
	}
	out.printf("dropped role %s", cfg.Role)
	return nil
}
