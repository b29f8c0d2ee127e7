package collectors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// jobsAlias names the configured query inside the wrapper.
const jobsAlias = "slotwatch_jobs"

// jobsWrapper renders id as text (any key type fits), keeps only rows over
// their limit and puts the largest excess first.
const jobsWrapper = `SELECT ` + jobsAlias + `.id::text, coalesce(` + jobsAlias + `.label::text, ''),
  ` + jobsAlias + `.count::bigint, ` + jobsAlias + `."limit"::bigint
FROM (%s) AS ` + jobsAlias + `
WHERE ` + jobsAlias + `.count > ` + jobsAlias + `."limit"
ORDER BY ` + jobsAlias + `.count - ` + jobsAlias + `."limit" DESC, 1`

// jobsColumns are the columns the configured query must return.
var jobsColumns = []string{"id", "label", "count", "limit"}

// jobsTablesQuery tells whether the default query's tables exist (on the
// connection's search_path).
const jobsTablesQuery = `SELECT to_regclass('jobs') IS NOT NULL AND to_regclass('applications') IS NOT NULL`

// SQLSTATEs the jobs query's errors are told apart by.
const (
	sqlStateUndefinedTable  = "42P01"
	sqlStateUndefinedColumn = "42703"
	sqlStateQueryCanceled   = "57014"
)

// jobsApplicability is whether the job-capacity query applies to the
// server: always when jobs.query is configured; for the default query, once
// the TalentFlow tables were found.
type jobsApplicability int

const (
	jobsUnknown jobsApplicability = iota
	jobsApplicable
	jobsNotApplicable
)

type jobsCollector struct {
	cfg JobsConfig
	// link is the PostgreSQL collector's when the DSN is the same (shared),
	// else the collector's own, closed as soon as the query does not apply.
	link     *pgLink
	shared   bool
	query    string
	state    jobsApplicability
	lastGood *JobsStats
	// notApplicableAt is when the default tables were found missing: they
	// are looked for again every jobsRecheck (a drill or a migration may
	// create them after slotwatch started), on the shared connection.
	notApplicableAt time.Time
}

// jobsRecheck is how often a missing TalentFlow schema is looked for again.
const jobsRecheck = time.Minute

func newJobsCollector(cfg JobsConfig, link *pgLink, shared bool) *jobsCollector {
	c := &jobsCollector{cfg: cfg, link: link, shared: shared, query: wrapJobsQuery(cfg.Query)}
	if cfg.Query != DefaultJobsQuery {
		c.state = jobsApplicable
	}
	return c
}

func wrapJobsQuery(q string) string {
	q = strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
	return fmt.Sprintf(jobsWrapper, q)
}

func (c *jobsCollector) interval() time.Duration { return c.cfg.Interval }
func (c *jobsCollector) close()                  {}

func (c *jobsCollector) collect(ctx context.Context) func(*Snapshot) {
	now := time.Now()
	if c.state == jobsNotApplicable {
		if now.Sub(c.notApplicableAt) < jobsRecheck {
			return nil
		}
		c.state = jobsUnknown
	}
	rows, err := c.sample(ctx)
	switch {
	case c.state == jobsNotApplicable:
		c.notApplicableAt = now
		// Found out just now: take no slot, show nothing (no error, no STALE).
		if !c.shared {
			c.link.release() // a momentary connection per recheck, none at rest
		}
		return func(s *Snapshot) {
			s.Jobs = nil
			delete(s.Errors, SourceJobs)
		}
	case err != nil && c.state == jobsUnknown:
		// Not known to apply: the PostgreSQL source reports the server's
		// trouble; jobs says nothing until it knows.
		return nil
	case err != nil:
		msg := scrub(err.Error(), c.link.ep.password)
		last := c.failed(now)
		return func(s *Snapshot) {
			s.Jobs = last
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

// failed is the last good sample re-stamped, nil when there was none.
func (c *jobsCollector) failed(now time.Time) *JobsStats {
	if c.lastGood == nil {
		return nil
	}
	st := *c.lastGood
	st.SampledAt = now
	return &st
}

func (c *jobsCollector) sample(ctx context.Context) ([]JobCapacity, error) {
	var out []JobCapacity
	err := c.link.use(ctx, false, func(ctx context.Context, conn *pgx.Conn) error {
		queryCtx, cancel := context.WithTimeout(ctx, c.cfg.StatementTimeout+time.Second)
		defer cancel()
		if c.state == jobsUnknown {
			var exist bool
			if err := conn.QueryRow(queryCtx, jobsTablesQuery).Scan(&exist); err != nil {
				return c.explain(queryCtx, conn, err)
			}
			c.state = jobsNotApplicable
			if !exist {
				return nil
			}
			c.state = jobsApplicable
		}
		var err error
		if out, err = c.run(queryCtx, conn); err != nil {
			return c.explain(queryCtx, conn, err)
		}
		return nil
	})
	if err != nil {
		if c.shared {
			return nil, err
		}
		return nil, relabelConnect(err)
	}
	return out, nil
}

// relabelConnect says that a connect failure is the jobs collector's own
// connection's (its DSN differs from the PostgreSQL target's).
func relabelConnect(err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "cannot connect"); ok {
		return sentence(err, "the jobs collector cannot connect%s", rest)
	}
	return err
}

func (c *jobsCollector) run(ctx context.Context, conn *pgx.Conn) ([]JobCapacity, error) {
	rows, err := conn.Query(ctx, c.query)
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
// that say which setting to change, by SQLSTATE; the server's own words are
// quoted, never parsed.
func (c *jobsCollector) explain(ctx context.Context, conn *pgx.Conn, err error) error {
	target := c.link.ep.target
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if errors.Is(err, context.DeadlineExceeded) {
			return sentence(err, "the jobs query on %s did not answer in time; make jobs.query cheaper or set jobs.disabled: true", target)
		}
		return sentence(err, "the jobs query on %s failed: %s", target, pgErrorText(err))
	}
	switch pgErr.Code {
	case sqlStateUndefinedColumn:
		if missing := c.missingColumns(ctx, conn); len(missing) > 0 {
			return sentence(err, "the jobs query returns no column named %s; jobs.query must return the columns id, label, count and limit", strings.Join(missing, ", "))
		}
	case sqlStateUndefinedTable:
		if c.cfg.Query == DefaultJobsQuery {
			return sentence(err, "the default jobs query's tables are gone from %s (the server says: %s); set jobs.query for your schema or jobs.disabled: true", target, pgErr.Message)
		}
	case sqlStateQueryCanceled:
		return sentence(err, "the jobs query on %s was cancelled by its statement timeout; make jobs.query cheaper or set jobs.disabled: true", target)
	}
	return sentence(err, "the jobs query on %s failed: %s; check jobs.query", target, pgErrorText(err))
}

// missingColumns names the required columns the configured query does not
// return, from the columns the server describes for it (no row is read).
// It is empty when the query itself is wrong.
func (c *jobsCollector) missingColumns(ctx context.Context, conn *pgx.Conn) []string {
	q := strings.TrimRight(strings.TrimSpace(c.cfg.Query), "; \t\r\n")
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT * FROM (%s) AS %s LIMIT 0", q, jobsAlias))
	if err != nil {
		return nil
	}
	defer rows.Close()
	var have []string
	for _, f := range rows.FieldDescriptions() {
		have = append(have, f.Name)
	}
	var missing []string
	for _, col := range jobsColumns {
		if !slices.Contains(have, col) {
			missing = append(missing, col)
		}
	}
	return missing
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
