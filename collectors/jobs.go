package collectors

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// jobsAlias names the configured query inside the wrapper, so that a
// missing column is reported as "column slotwatch_jobs.<name> does not
// exist" and can be told apart from an error inside the query.
const jobsAlias = "slotwatch_jobs"

// jobsWrapper renders id as text (any key type fits), keeps only rows over
// their limit and puts the largest excess first.
const jobsWrapper = `SELECT ` + jobsAlias + `.id::text, coalesce(` + jobsAlias + `.label::text, ''),
  ` + jobsAlias + `.count::bigint, ` + jobsAlias + `."limit"::bigint
FROM (%s) AS ` + jobsAlias + `
WHERE ` + jobsAlias + `.count > ` + jobsAlias + `."limit"
ORDER BY ` + jobsAlias + `.count - ` + jobsAlias + `."limit" DESC, 1`

var (
	missingColumn   = regexp.MustCompile(`column ` + jobsAlias + `\.(\S+) does not exist`)
	missingRelation = regexp.MustCompile(`relation "([^"]+)" does not exist`)
)

type jobsCollector struct {
	cfg      JobsConfig
	own      *ownBackends // nil when jobs run on another server
	target   string
	password string
	query    string
	conn     *pgx.Conn
	lastGood *JobsStats
}

func newJobsCollector(cfg JobsConfig, own *ownBackends) *jobsCollector {
	c := &jobsCollector{cfg: cfg, own: own, target: RedactDSN(cfg.DSN), query: wrapJobsQuery(cfg.Query)}
	if cc, err := pgx.ParseConfig(cfg.DSN); err == nil {
		c.target = pgTarget(&cc.Config)
		c.password = cc.Password
	}
	return c
}

func wrapJobsQuery(q string) string {
	q = strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
	return fmt.Sprintf(jobsWrapper, q)
}

func (c *jobsCollector) interval() time.Duration { return c.cfg.Interval }

func (c *jobsCollector) close() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.conn.Close(ctx)
		c.conn = nil
		c.own.set(SourceJobs, 0)
	}
}

func (c *jobsCollector) collect(ctx context.Context) func(*Snapshot) {
	now := time.Now()
	rows, err := c.sample(ctx)
	if err != nil {
		msg := scrub(err.Error(), c.password)
		st := &JobsStats{OverCapacity: []JobCapacity{}}
		if c.lastGood != nil {
			*st = *c.lastGood
		}
		st.SampledAt = now
		st.DefaultQueryUnavailable = c.cfg.Query == DefaultJobsQuery && isMissingRelation(err)
		return func(s *Snapshot) {
			s.Jobs = st
			s.Errors[SourceJobs] = msg
		}
	}
	st := &JobsStats{Sample: Sample{SampledAt: now, LastGoodAt: now}, OverCapacity: rows}
	c.lastGood = st
	return func(s *Snapshot) {
		s.Jobs = st
		delete(s.Errors, SourceJobs)
	}
}

func (c *jobsCollector) sample(ctx context.Context) ([]JobCapacity, error) {
	if c.conn == nil || c.conn.IsClosed() {
		c.close()
		conn, err := connectPG(ctx, c.cfg.DSN, "slotwatch-jobs", c.cfg.StatementTimeout, defaultConnectTimeout)
		if err != nil {
			return nil, connectFailed("the jobs collector", c.target, err)
		}
		c.conn = conn
		c.own.set(SourceJobs, conn.PgConn().PID())
	}
	queryCtx, cancel := context.WithTimeout(ctx, c.cfg.StatementTimeout+time.Second)
	defer cancel()
	out, err := c.run(queryCtx)
	if err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			c.close()
		}
		return nil, c.explain(err)
	}
	return out, nil
}

func (c *jobsCollector) run(ctx context.Context) ([]JobCapacity, error) {
	rows, err := c.conn.Query(ctx, c.query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []JobCapacity{}
	for rows.Next() {
		var j JobCapacity
		var id *string
		if err := rows.Scan(&id, &j.Label, &j.Count, &j.Limit); err != nil {
			return nil, err
		}
		if id != nil {
			j.ID = *id
		}
		j.Excess = j.Count - j.Limit
		out = append(out, j)
	}
	return out, rows.Err()
}

// explain turns the errors a wrong query or schema gives into sentences
// that say which setting to change.
func (c *jobsCollector) explain(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if errors.Is(err, context.DeadlineExceeded) {
			return sentence(err, "the jobs query on %s did not answer in time; make jobs.query cheaper or set jobs.disabled: true", c.target)
		}
		return sentence(err, "the jobs query on %s failed: %s", c.target, pgErrorText(err))
	}
	if m := missingColumn.FindStringSubmatch(pgErr.Message); m != nil {
		return sentence(err, "the jobs query returns no column named %s; jobs.query must return the columns id, label, count and limit", m[1])
	}
	if m := missingRelation.FindStringSubmatch(pgErr.Message); m != nil && c.cfg.Query == DefaultJobsQuery {
		return sentence(err, "table %s not found on %s; the default jobs query fits the TalentFlow schema: set jobs.query for your schema or jobs.disabled: true", m[1], c.target)
	}
	if pgErr.Code == "57014" {
		return sentence(err, "the jobs query on %s was cancelled by its statement timeout; make jobs.query cheaper or set jobs.disabled: true", c.target)
	}
	return sentence(err, "the jobs query on %s failed: %s; check jobs.query", c.target, pgErrorText(err))
}

func isMissingRelation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// explainedError is a sentence for the user that keeps the driver's error
// for errors.As.
type explainedError struct {
	msg   string
	cause error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.cause }

func sentence(cause error, format string, args ...any) error {
	return &explainedError{msg: fmt.Sprintf(format, args...), cause: cause}
}
