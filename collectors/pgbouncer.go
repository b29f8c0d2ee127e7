package collectors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SourcePgBouncer is the Snapshot.Errors key of the pgbouncer collector.
const SourcePgBouncer = "pgbouncer"

// PgBouncerConfig is the pgbouncer admin-console collector.
type PgBouncerConfig struct {
	// DSN reaches the admin console: database "pgbouncer", a user listed in
	// admin_users or stats_users.
	DSN            string
	Interval       time.Duration // SHOW POOLS/STATS every Interval (default 1s)
	ConnectTimeout time.Duration // default 5s
}

// PgBouncerStats is one sample of pgbouncer's admin console.
type PgBouncerStats struct {
	Sample
	Target   string            `json:"target"` // host:port, never a password
	Version  string            `json:"version"`
	Settings PgBouncerSettings `json:"settings"`
	Pools    []PgBouncerPool   `json:"pools"`
	Stats    []PgBouncerDB     `json:"stats"`
	// ClientsByApp counts SHOW CLIENTS rows by application and state;
	// Servers links each server connection to its PostgreSQL backend pid.
	// Both are read every ClientListEverySeconds (they grow with clients).
	ClientsSampledAt       time.Time           `json:"clients_sampled_at,omitzero"`
	ClientListEverySeconds float64             `json:"client_list_every_seconds"`
	ClientsByApp           []PgBouncerAppCount `json:"clients_by_app"`
	Servers                []PgBouncerServer   `json:"servers"`
}

// PgBouncerSettings are the SHOW CONFIG values that bound the pools, read
// once per connection.
type PgBouncerSettings struct {
	PoolMode         string `json:"pool_mode"`
	DefaultPoolSize  int    `json:"default_pool_size"`
	MaxClientConn    int    `json:"max_client_conn"`
	MaxDBConnections int    `json:"max_db_connections"`
	ReservePoolSize  int    `json:"reserve_pool_size"`
}

// PgBouncerPool is one SHOW POOLS row: the clients and server connections
// of one database/user pair.
type PgBouncerPool struct {
	Database  string `json:"database"`
	User      string `json:"user"`
	ClActive  int    `json:"cl_active"`
	ClWaiting int    `json:"cl_waiting"`
	SvActive  int    `json:"sv_active"`
	SvIdle    int    `json:"sv_idle"`
	SvUsed    int    `json:"sv_used"`
	SvTested  int    `json:"sv_tested"`
	SvLogin   int    `json:"sv_login"`
	// MaxWaitSeconds is how long the oldest waiting client has waited.
	MaxWaitSeconds float64 `json:"maxwait_seconds"`
	PoolMode       string  `json:"pool_mode"`
}

// Servers is every server connection of the pool, busy or not.
func (p PgBouncerPool) Servers() int {
	return p.SvActive + p.SvIdle + p.SvUsed + p.SvTested + p.SvLogin
}

// PgBouncerDB is one SHOW STATS row; averages are over pgbouncer's
// stats_period (60 s by default).
type PgBouncerDB struct {
	Database        string  `json:"database"`
	AvgWaitSeconds  float64 `json:"avg_wait_seconds"`
	AvgQuerySeconds float64 `json:"avg_query_seconds"`
	AvgXactSeconds  float64 `json:"avg_xact_seconds"`
	AvgQueryCount   float64 `json:"avg_query_count"`
	TotalWaitSecs   float64 `json:"total_wait_seconds"`
}

// PgBouncerAppCount is how many clients of one application are in a state.
type PgBouncerAppCount struct {
	Database        string `json:"database"`
	User            string `json:"user"`
	ApplicationName string `json:"application_name"`
	State           string `json:"state"` // active, waiting, idle, used, …
	Count           int    `json:"count"`
}

// PgBouncerServer is one server connection: RemotePID is the PostgreSQL
// backend's pid, which links a session to its pool.
type PgBouncerServer struct {
	Database  string `json:"database"`
	User      string `json:"user"`
	State     string `json:"state"`
	RemotePID int32  `json:"remote_pid"`
}

// Waiting sums cl_waiting over every pool.
func (b *PgBouncerStats) Waiting() int {
	n := 0
	for _, p := range b.Pools {
		n += p.ClWaiting
	}
	return n
}

// MaxWaitSeconds is the longest wait of any pool.
func (b *PgBouncerStats) MaxWaitSeconds() float64 {
	m := 0.0
	for _, p := range b.Pools {
		m = math.Max(m, p.MaxWaitSeconds)
	}
	return m
}

// PoolOf returns the pool whose server connection is backend pid.
func (b *PgBouncerStats) PoolOf(pid int32) (database, user string, ok bool) {
	for _, s := range b.Servers {
		if s.RemotePID == pid {
			return s.Database, s.User, true
		}
	}
	return "", "", false
}

type pgbouncerCollector struct {
	cfg      PgBouncerConfig
	target   string
	password string
	conn     *pgx.Conn
	version  string
	settings PgBouncerSettings
	last     *PgBouncerStats
}

func newPgBouncerCollector(cfg PgBouncerConfig) *pgbouncerCollector {
	c := &pgbouncerCollector{cfg: cfg, target: RedactDSN(cfg.DSN)}
	if cc, err := pgx.ParseConfig(cfg.DSN); err == nil {
		c.target = pgTarget(&cc.Config)
		c.password = cc.Password
	}
	return c
}

func (c *pgbouncerCollector) interval() time.Duration { return c.cfg.Interval }

func (c *pgbouncerCollector) close() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.conn.Close(ctx)
		c.conn = nil
	}
}

func (c *pgbouncerCollector) collect(ctx context.Context) func(*Snapshot) {
	now := time.Now()
	st, err := c.sample(ctx, now)
	if err != nil {
		msg := scrub(err.Error(), c.password)
		last := c.last
		if last != nil {
			failed := *last
			failed.SampledAt = now
			last = &failed
		}
		return func(s *Snapshot) {
			s.PgBouncer = last // nil until it has answered once: DOWN, no numbers
			s.Errors[SourcePgBouncer] = msg
		}
	}
	c.last = st
	return func(s *Snapshot) {
		s.PgBouncer = st
		delete(s.Errors, SourcePgBouncer)
	}
}

func (c *pgbouncerCollector) sample(ctx context.Context, now time.Time) (*PgBouncerStats, error) {
	if err := c.ensureConn(ctx); err != nil {
		return nil, err
	}
	st := &PgBouncerStats{Sample: Sample{SampledAt: now, LastGoodAt: now}, Target: c.target,
		Version: c.version, Settings: c.settings}
	var err error
	if st.Pools, err = c.pools(ctx); err == nil {
		st.Stats, err = c.stats(ctx)
	}
	if err == nil {
		err = c.clientsAndServers(ctx, st, now)
	}
	if err != nil {
		c.close() // reconnect on the next tick: the console may have dropped us
		return nil, fmt.Errorf("read pgbouncer at %s: %w; check that the DSN names the admin console (database pgbouncer) and a user in admin_users or stats_users", c.target, err)
	}
	return st, nil
}

// ensureConn opens the one admin-console connection. The console speaks
// only the simple query protocol, accepts no transaction and refuses unknown
// startup parameters, so nothing but application_name is sent.
func (c *pgbouncerCollector) ensureConn(ctx context.Context) error {
	if c.conn != nil && !c.conn.IsClosed() {
		return nil
	}
	cfg, err := pgx.ParseConfig(c.cfg.DSN)
	if err != nil {
		return invalidTarget("pgbouncer DSN", c.cfg.DSN, unwrapParse(err), c.password)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.StatementCacheCapacity, cfg.DescriptionCacheCapacity = 0, 0
	cfg.RuntimeParams = map[string]string{"application_name": "slotwatch"}
	cfg.ConnectTimeout = orDuration(c.cfg.ConnectTimeout, defaultConnectTimeout)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return connectFailed("the pgbouncer collector", c.target, err)
	}
	c.conn = conn
	if err := c.readOnce(ctx); err != nil {
		c.close()
		return fmt.Errorf("read pgbouncer's version and settings at %s: %w", c.target, err)
	}
	return nil
}

func (c *pgbouncerCollector) readOnce(ctx context.Context) error {
	rows, err := c.show(ctx, "VERSION")
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		c.version = strings.TrimPrefix(rows[0].first(), "PgBouncer ")
	}
	rows, err = c.show(ctx, "CONFIG")
	if err != nil {
		return err
	}
	c.settings = settingsFrom(rows)
	return nil
}

func settingsFrom(rows []showRow) PgBouncerSettings {
	var s PgBouncerSettings
	for _, r := range rows {
		v := r.text("value")
		switch r.text("key") {
		case "pool_mode":
			s.PoolMode = v
		case "default_pool_size":
			s.DefaultPoolSize = atoi(v)
		case "max_client_conn":
			s.MaxClientConn = atoi(v)
		case "max_db_connections":
			s.MaxDBConnections = atoi(v)
		case "reserve_pool_size", "reserve_pool":
			s.ReservePoolSize = atoi(v)
		}
	}
	return s
}

func (c *pgbouncerCollector) pools(ctx context.Context) ([]PgBouncerPool, error) {
	rows, err := c.show(ctx, "POOLS")
	if err != nil {
		return nil, err
	}
	pools := make([]PgBouncerPool, 0, len(rows))
	for _, r := range rows {
		p := PgBouncerPool{Database: r.text("database"), User: r.text("user"),
			ClActive: r.int("cl_active"), ClWaiting: r.int("cl_waiting"), SvActive: r.int("sv_active"),
			SvIdle: r.int("sv_idle"), SvUsed: r.int("sv_used"), SvTested: r.int("sv_tested"),
			SvLogin: r.int("sv_login"), PoolMode: r.text("pool_mode")}
		// maxwait is whole seconds; maxwait_us (1.8+) the microseconds part.
		p.MaxWaitSeconds = float64(r.int("maxwait")) + float64(r.int("maxwait_us"))/1e6
		pools = append(pools, p)
	}
	return pools, nil
}

func (c *pgbouncerCollector) stats(ctx context.Context) ([]PgBouncerDB, error) {
	rows, err := c.show(ctx, "STATS")
	if err != nil {
		return nil, err
	}
	out := make([]PgBouncerDB, 0, len(rows))
	for _, r := range rows {
		out = append(out, PgBouncerDB{Database: r.text("database"),
			AvgWaitSeconds: r.micros("avg_wait_time"), AvgQuerySeconds: r.micros("avg_query_time"),
			AvgXactSeconds: r.micros("avg_xact_time"), AvgQueryCount: r.float("avg_query_count"),
			TotalWaitSecs: r.micros("total_wait_time")})
	}
	return out, nil
}

// clientsAndServers reads SHOW CLIENTS and SHOW SERVERS, less often when
// there are thousands of clients (as CLIENT LIST is), reusing the last lists
// between reads.
func (c *pgbouncerCollector) clientsAndServers(ctx context.Context, st *PgBouncerStats, now time.Time) error {
	clients := 0
	for _, p := range st.Pools {
		clients += p.ClActive + p.ClWaiting
	}
	every := ClientListEvery(int64(clients), c.cfg.Interval)
	st.ClientListEverySeconds = every.Seconds()
	if c.last != nil && !c.last.ClientsSampledAt.IsZero() && now.Sub(c.last.ClientsSampledAt) < every-every/10 {
		st.ClientsSampledAt, st.ClientsByApp, st.Servers = c.last.ClientsSampledAt, c.last.ClientsByApp, c.last.Servers
		return nil
	}
	rows, err := c.show(ctx, "CLIENTS")
	if err != nil {
		return err
	}
	st.ClientsByApp = countClients(rows)
	if rows, err = c.show(ctx, "SERVERS"); err != nil {
		return err
	}
	st.Servers = make([]PgBouncerServer, 0, len(rows))
	for _, r := range rows {
		st.Servers = append(st.Servers, PgBouncerServer{Database: r.text("database"), User: r.text("user"),
			State: r.text("state"), RemotePID: int32(r.int("remote_pid"))})
	}
	st.ClientsSampledAt = now
	return nil
}

func countClients(rows []showRow) []PgBouncerAppCount {
	type key struct{ db, user, app, state string }
	counts := map[key]int{}
	for _, r := range rows {
		counts[key{r.text("database"), r.text("user"), r.text("application_name"), r.text("state")}]++
	}
	out := make([]PgBouncerAppCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, PgBouncerAppCount{Database: k.db, User: k.user, ApplicationName: k.app, State: k.state, Count: n})
	}
	slices.SortFunc(out, func(a, b PgBouncerAppCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Database+a.User+a.ApplicationName+a.State, b.Database+b.User+b.ApplicationName+b.State)
	})
	return out
}

// showRow is one admin-console row, by column name: the columns change
// across pgbouncer versions (maxwait_us in 1.8, application_name in SHOW
// CLIENTS in 1.18, reserve_pool → reserve_pool_size), so nothing is read by
// position and a missing column reads as empty.
type showRow map[string]string

func (r showRow) text(col string) string { return r[col] }
func (r showRow) int(col string) int     { return atoi(r[col]) }
func (r showRow) float(col string) float64 {
	f, _ := strconv.ParseFloat(r[col], 64)
	return f
}
func (r showRow) micros(col string) float64 { return r.float(col) / 1e6 }
func (r showRow) first() string {
	for _, v := range r {
		return v
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

var errNoConn = errors.New("no connection")

func (c *pgbouncerCollector) show(ctx context.Context, what string) ([]showRow, error) {
	if c.conn == nil {
		return nil, errNoConn
	}
	rows, err := c.conn.Query(ctx, "SHOW "+what)
	if err != nil {
		return nil, fmt.Errorf("SHOW %s: %w", what, err)
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	var out []showRow
	for rows.Next() {
		raw := rows.RawValues()
		r := make(showRow, len(fields))
		for i, f := range fields {
			if i < len(raw) {
				r[f.Name] = string(raw[i])
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("SHOW %s: %w", what, err)
	}
	return out, nil
}
