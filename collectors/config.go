package collectors

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config says which sources to collect; a nil source is not configured and
// is absent from every snapshot.
type Config struct {
	PG    *PGConfig
	Probe *ProbeConfig
	Redis *RedisConfig
	Jobs  *JobsConfig
	// PgBouncer reads pgbouncer's admin console (pgbouncer.go).
	PgBouncer *PgBouncerConfig
	// Alerting reads the team's Alertmanager/Prometheus (alerting.go).
	Alerting *AlertingConfig
	// PromFleet reads the whole fleet from Prometheus (promfleet.go).
	PromFleet *PromFleetConfig
	// PGLog is where the primary server's log is read for refused
	// connections (pglog.go); nil reads it through the server.
	PGLog *PGLogConfig
	// MorePG and MoreRedis are further servers (replicas, other
	// instances), each with one collector and one connection of its own;
	// PG and Redis are the primaries. With any of them the snapshot has
	// Servers.
	MorePG    []PGConfig
	MoreRedis []RedisConfig
}

// PGConfig is the PostgreSQL activity collector.
type PGConfig struct {
	// Name is how screens and actions call the server ("primary",
	// "replica-1"); empty means its redacted host:port.
	Name string
	DSN  string // URL or key=value; PG* variables and .pgpass fill the rest
	// DB restricts sessions to one database; empty watches all databases.
	DB       string
	Interval time.Duration // default 1s
	// StatementTimeout bounds each query of the collector (default 2s) so a
	// stuck catalog never stalls the console.
	StatementTimeout time.Duration
	ConnectTimeout   time.Duration // default 5s
}

// ProbeConfig is the connect probe: a fresh connection opened and closed as
// the application would, never kept.
type ProbeConfig struct {
	DSN            string        // typically the application's role
	Interval       time.Duration // default 10s
	ConnectTimeout time.Duration // default 5s
}

// RedisConfig is the Redis client collector.
type RedisConfig struct {
	Name string // as PGConfig.Name
	// Cluster reads a Redis Cluster through go-redis's ClusterClient, URL
	// naming any node (redis+cluster:// sets it too).
	Cluster  bool
	URL      string        // redis://[user:password@]host:port/db, rediss://, unix://
	Interval time.Duration // INFO every Interval (default 1s); CLIENT LIST adapts
	Timeout  time.Duration // dial and read timeout, default 3s
}

// JobsConfig is the job-capacity collector.
type JobsConfig struct {
	DSN string
	// Query returns the columns id, label, count and limit; empty means
	// DefaultJobsQuery (the TalentFlow schema).
	Query    string
	Interval time.Duration // default 10s
	// StatementTimeout bounds the query (default 5s).
	StatementTimeout time.Duration
}

// DefaultJobsQuery fits testdata/talentflow/schema.sql: jobs with
// max_applications, applications with job_id.
const DefaultJobsQuery = `SELECT j.id, j.title AS label, count(a.id) AS count, j.max_applications AS "limit"
FROM jobs j LEFT JOIN applications a ON a.job_id = j.id
GROUP BY j.id, j.title, j.max_applications
HAVING count(a.id) > j.max_applications`

// Defaults used when a duration is left zero.
const (
	DefaultInterval         = time.Second
	DefaultProbeInterval    = 10 * time.Second
	DefaultJobsInterval     = 10 * time.Second
	defaultStatementTimeout = 2 * time.Second
	defaultJobsTimeout      = 5 * time.Second
	defaultConnectTimeout   = 5 * time.Second
	defaultRedisTimeout     = 3 * time.Second
)

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// withDefaults returns a copy of c with every zero duration filled.
func (c Config) withDefaults() Config {
	if c.PG != nil {
		pg := *c.PG
		pg.Interval = orDuration(pg.Interval, DefaultInterval)
		pg.StatementTimeout = orDuration(pg.StatementTimeout, defaultStatementTimeout)
		pg.ConnectTimeout = orDuration(pg.ConnectTimeout, defaultConnectTimeout)
		c.PG = &pg
	}
	if c.PgBouncer != nil {
		b := *c.PgBouncer
		b.Interval = orDuration(b.Interval, DefaultInterval)
		b.ConnectTimeout = orDuration(b.ConnectTimeout, defaultConnectTimeout)
		c.PgBouncer = &b
	}
	if c.Probe != nil {
		pr := *c.Probe
		pr.Interval = orDuration(pr.Interval, DefaultProbeInterval)
		pr.ConnectTimeout = orDuration(pr.ConnectTimeout, defaultConnectTimeout)
		c.Probe = &pr
	}
	if c.Redis != nil {
		r := *c.Redis
		r.Interval = orDuration(r.Interval, DefaultInterval)
		r.Timeout = orDuration(r.Timeout, defaultRedisTimeout)
		c.Redis = &r
	}
	c.MorePG = slices.Clone(c.MorePG)
	for i := range c.MorePG {
		pg := &c.MorePG[i]
		pg.Interval = orDuration(pg.Interval, DefaultInterval)
		pg.StatementTimeout = orDuration(pg.StatementTimeout, defaultStatementTimeout)
		pg.ConnectTimeout = orDuration(pg.ConnectTimeout, defaultConnectTimeout)
	}
	c.MoreRedis = slices.Clone(c.MoreRedis)
	for i := range c.MoreRedis {
		r := &c.MoreRedis[i]
		r.Interval = orDuration(r.Interval, DefaultInterval)
		r.Timeout = orDuration(r.Timeout, defaultRedisTimeout)
	}
	if c.Jobs != nil {
		j := *c.Jobs
		j.Interval = orDuration(j.Interval, DefaultJobsInterval)
		j.StatementTimeout = orDuration(j.StatementTimeout, defaultJobsTimeout)
		if j.Query == "" {
			j.Query = DefaultJobsQuery
		}
		c.Jobs = &j
	}
	return c
}

// Validate checks that every configured DSN and URL parses, so that a typo
// is reported once at start instead of on every tick.
func (c Config) Validate() error {
	var errs []error
	if c.PG != nil {
		if _, err := parsePGConfig(c.PG.DSN, "PostgreSQL target"); err != nil {
			errs = append(errs, err)
		}
	}
	// The probe and jobs default to the PostgreSQL target's DSN: its error
	// is said once.
	if c.Probe != nil && (c.PG == nil || c.Probe.DSN != c.PG.DSN) {
		if _, err := parsePGConfig(c.Probe.DSN, "probe DSN (probe.dsn)"); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Jobs != nil && (c.PG == nil || c.Jobs.DSN != c.PG.DSN) {
		if _, err := parsePGConfig(c.Jobs.DSN, "jobs DSN (jobs.dsn)"); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Redis != nil {
		if err := c.Redis.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, pg := range c.MorePG {
		if _, err := parsePGConfig(pg.DSN, fmt.Sprintf("PostgreSQL server %s", pgName(pg))); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range c.MoreRedis {
		if err := r.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.validateNames(); err != nil {
		errs = append(errs, err)
	}
	if c.PgBouncer != nil {
		if _, err := parsePGConfig(c.PgBouncer.DSN, "pgbouncer admin-console DSN"); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Alerting != nil {
		if err := ValidateAlerting(*c.Alerting); err != nil {
			errs = append(errs, err)
		}
	}
	if c.PromFleet != nil {
		if err := ValidatePromFleet(*c.PromFleet); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validate checks the URL of one Redis server or cluster.
func (r RedisConfig) validate() error {
	var err error
	if r.isCluster() {
		_, err = parseClusterOptions(r.URL, r.Timeout)
	} else {
		_, err = parseRedisOptions(r.URL, r.Timeout)
	}
	return err
}

// Empty reports whether no source is configured.
func (c Config) Empty() bool {
	return c.PG == nil && c.Probe == nil && c.Redis == nil && c.Jobs == nil && c.PgBouncer == nil &&
		len(c.MorePG) == 0 && len(c.MoreRedis) == 0 && c.PromFleet == nil
}

// InvalidTargetError is a DSN or URL that cannot be used as written: the
// caller's input is wrong (a command exits 2), not the server.
type InvalidTargetError struct{ sentence string }

func (e *InvalidTargetError) Error() string { return e.sentence }

// invalidTarget says why raw was rejected, with no part of its password:
// parsers quote their input.
// Extra secrets are scrubbed as well.
func invalidTarget(what, raw string, err error, secrets ...string) error {
	return &InvalidTargetError{fmt.Sprintf("the %s %s is not valid: %s; fix it and try again", what, RedactDSN(raw), scrub(RedactError(raw, err), secrets...))}
}
