package collectors

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RefusedWindow is the span Refused.Last5m and ProbeFailures5m count over:
// the incident's "Failed Connections (5m)".
const RefusedWindow = 5 * time.Minute

// DefaultPGLogInterval is how often the server's log is read: refusals are
// counted per five minutes, so a slower cadence than the activity's costs
// nothing in precision and keeps the shared connection free.
const DefaultPGLogInterval = 10 * time.Second

// pgLogRecheck is how often a log that was not readable is tried again (a
// grant or a reload may make it readable).
const pgLogRecheck = time.Minute

// pgLogChunk and pgLogChunksPerPass bound one pass: a large backlog is
// caught up over several passes rather than in one long statement.
const (
	pgLogChunk         = 1 << 20
	pgLogChunksPerPass = 4
)

// RefusalSQLStates are the connection-time FATAL errors counted as refused
// connections: what an application sees as "could not connect".
//   - 53300 too_many_connections: every slot, reserved-slot and per-role or
//     per-database limit refusal;
//   - 28P01 invalid_password, 28000 invalid_authorization_specification (no
//     pg_hba entry, unknown role, a certificate required);
//   - 3D000 invalid_catalog_name: the database does not exist;
//   - 57P03 cannot_connect_now: starting up, shutting down, not yet
//     accepting connections in recovery;
//   - 42501 insufficient_privilege at FATAL: no CONNECT privilege on the
//     database (a FATAL 42501 is raised only while a session starts).
//
// Left out: 53400 configuration_limit_exceeded is not a connection-time
// error, and 08P01 protocol_violation ("invalid startup packet") is mostly
// port scanners and TCP health checks, not clients that wanted a session.
var RefusalSQLStates = []string{"53300", "28P01", "28000", "3D000", "57P03", "42501"}

// isRefusal reports whether a log record is a refused connection.
func isRefusal(severity, state string) bool {
	if severity != "FATAL" {
		return false
	}
	for _, s := range RefusalSQLStates {
		if s == state {
			return true
		}
	}
	return false
}

// logEvent is one refused connection read from the log. at is the record's
// wall-clock time in the server's log_timezone, labelled UTC: it is only
// compared with a wall clock read in that same zone.
type logEvent struct {
	at    time.Time
	state string
}

// logFormat is how a log file is written.
type logFormat int

const (
	formatCSV logFormat = iota
	formatJSON
)

func (f logFormat) String() string {
	if f == formatJSON {
		return "jsonlog"
	}
	return "csvlog"
}

// csvlog columns, the same positions in PostgreSQL 12 to 18: 13 appended
// backend_type, 14 leader_pid and query_id, so a record has 23 to 26 (or
// more, in a later version) fields.
const (
	csvLogTime      = 0
	csvSeverity     = 11
	csvSQLState     = 12
	csvMinimumWidth = 13
)

// logTimeLayout is the start of log_time / jsonlog's timestamp
// ("2024-01-21 15:02:00.123 UTC"); the zone abbreviation after it is left
// out: abbreviations are ambiguous, and the reference clock is read in the
// same zone.
const logTimeLayout = "2006-01-02 15:04:05.000"

func parseLogTime(s string) (time.Time, bool) {
	if len(s) < len(logTimeLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(logTimeLayout, s[:len(logTimeLayout)])
	return t, err == nil
}

// parseLog reads the complete records at the start of buf and returns the
// refusals among them and how many bytes they took; an incomplete record
// at the end is left for the next read. A malformed record is skipped, never
// an error: the log is the server's, and one bad line must not stop the
// count.
func parseLog(buf []byte, format logFormat) (events []logEvent, consumed int) {
	if format == formatJSON {
		return parseJSONLog(buf)
	}
	return parseCSVLog(buf)
}

func parseJSONLog(buf []byte) ([]logEvent, int) {
	var events []logEvent
	consumed := 0
	for {
		nl := bytes.IndexByte(buf[consumed:], '\n')
		if nl < 0 {
			return events, consumed
		}
		line := buf[consumed : consumed+nl]
		consumed += nl + 1
		// Most records are not FATAL: skip them without decoding.
		if !bytes.Contains(line, []byte(`"FATAL"`)) {
			continue
		}
		var rec struct {
			Timestamp string `json:"timestamp"`
			Severity  string `json:"error_severity"`
			State     string `json:"state_code"`
		}
		if json.Unmarshal(line, &rec) != nil || !isRefusal(rec.Severity, rec.State) {
			continue
		}
		if at, ok := parseLogTime(rec.Timestamp); ok {
			events = append(events, logEvent{at: at, state: rec.State})
		}
	}
}

func parseCSVLog(buf []byte) ([]logEvent, int) {
	var events []logEvent
	consumed := 0
	for consumed < len(buf) {
		r := csv.NewReader(bytes.NewReader(buf[consumed:]))
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		start := 0
		for {
			rec, err := r.Read()
			end := int(r.InputOffset())
			if err == io.EOF {
				return events, consumed + start
			}
			if err != nil {
				if end >= len(buf)-consumed {
					// A quoted field still open at the end: the rest of the
					// record is not written yet.
					return events, consumed + start
				}
				// A malformed record: skip past the line it broke on and
				// start a fresh reader there.
				consumed += max(end, start+1)
				break
			}
			if end == 0 || buf[consumed+end-1] != '\n' {
				// PostgreSQL ends every record with a newline: this one
				// is not complete yet.
				return events, consumed + start
			}
			start = end
			if len(rec) < csvMinimumWidth || !isRefusal(rec[csvSeverity], rec[csvSQLState]) {
				continue
			}
			if at, ok := parseLogTime(rec[csvLogTime]); ok {
				events = append(events, logEvent{at: at, state: rec[csvSQLState]})
			}
		}
	}
	return events, consumed
}

// RefusalCount is the running count of refused connections: totals and
// the events of the last RefusedWindow. The log collector and the demo's
// simulated server both count with it, so the window means the same.
type RefusalCount struct {
	total   int64
	byState map[string]int64
	recent  []time.Time
}

// Record counts one refusal with its SQLSTATE at time at.
func (c *RefusalCount) Record(at time.Time, state string) {
	if c.byState == nil {
		c.byState = map[string]int64{}
	}
	c.total++
	c.byState[state]++
	c.recent = append(c.recent, at)
}

func (c *RefusalCount) add(events []logEvent) {
	for _, e := range events {
		c.Record(e.at, e.state)
	}
}

// inWindow counts the events after now-RefusedWindow and forgets older ones.
func (c *RefusalCount) inWindow(now time.Time) int {
	cut := now.Add(-RefusedWindow)
	kept := c.recent[:0]
	for _, at := range c.recent {
		if at.After(cut) {
			kept = append(kept, at)
		}
	}
	c.recent = kept
	return len(kept)
}

// Stats is the count as of now (a time of the same clock as the recorded
// ones), the log readable.
func (c *RefusalCount) Stats(now time.Time) RefusedStats {
	return RefusedStats{SampledAt: now, Readable: true, Total: c.total, Last5m: c.inWindow(now),
		BySQLState: maps.Clone(c.byState)}
}

// probeFailures is the connect probe's failed attempts of the last window,
// shared by the probe (which records) and the log collector (which reports
// them when the log is not readable).
type probeFailures struct {
	mu    sync.Mutex
	times []time.Time
}

func (p *probeFailures) add(at time.Time) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.times = append(p.times, at)
}

func (p *probeFailures) inWindow(now time.Time) int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := now.Add(-RefusedWindow)
	kept := p.times[:0]
	for _, at := range p.times {
		if at.After(cut) {
			kept = append(kept, at)
		}
	}
	p.times = kept
	return len(kept)
}

// PGLogConfig says where the primary PostgreSQL server's log is read. The
// zero value reads it through the server (pg_current_logfile and
// pg_read_binary_file on the collector's connection).
type PGLogConfig struct {
	// Path is a csvlog or jsonlog file on this machine (".json" is read as
	// jsonlog); its tail is read instead of asking the server. It must be
	// written in the host's time zone (log_timezone) for the five-minute
	// window to be right.
	Path     string
	Disabled bool
	Interval time.Duration // default DefaultPGLogInterval
}

// logTail is an incrementally read log: which file, how far, and the
// incomplete record at the end of what was read.
type logTail struct {
	name    string
	format  logFormat
	offset  int64
	pending []byte
}

// take parses what was read after pending and keeps the rest.
func (t *logTail) take(data []byte) []logEvent {
	t.offset += int64(len(data))
	buf := append(t.pending, data...)
	events, used := parseLog(buf, t.format)
	t.pending = append([]byte(nil), buf[used:]...)
	if len(t.pending) > pgLogChunk {
		// No record is this long: the file is not a log of this format.
		t.pending = nil
	}
	return events
}

// pgLogCollector counts the primary server's refused connections from its
// own log. It runs on the PostgreSQL collector's connection (never one of
// its own) or reads a local file.
type pgLogCollector struct {
	cfg      PGLogConfig
	link     *pgLink
	probe    *probeFailures
	tail     logTail
	count    RefusalCount
	readable bool
	why      string
	fix      string
	source   string
	tried    time.Time
	stats    *RefusedStats
	file     *os.File // the local path's open file, kept across rotation
}

func newPGLogCollector(cfg PGLogConfig, link *pgLink, probe *probeFailures) *pgLogCollector {
	cfg.Interval = orDuration(cfg.Interval, DefaultPGLogInterval)
	return &pgLogCollector{cfg: cfg, link: link, probe: probe}
}

func (c *pgLogCollector) interval() time.Duration { return c.cfg.Interval }

func (c *pgLogCollector) close() {
	if c.file != nil {
		_ = c.file.Close()
		c.file = nil
	}
}

func (c *pgLogCollector) collect(ctx context.Context) func(*Snapshot) {
	now := time.Now()
	if c.readable || c.tried.IsZero() || now.Sub(c.tried) >= pgLogRecheck {
		c.tried = now
		var (
			events []logEvent
			ref    time.Time
			err    error
		)
		if c.cfg.Path != "" {
			events, ref, err = c.readLocal()
		} else {
			events, ref, err = c.readServer(ctx)
		}
		var nr *notReadable
		switch {
		case errors.As(err, &nr):
			c.readable, c.why, c.fix = false, nr.why, nr.fix
		case err != nil:
			// The connection's trouble is the PostgreSQL source's to
			// report; the count stays as it was.
		default:
			c.readable, c.why, c.fix = true, "", ""
			c.count.add(events)
			c.stats = c.snapshot(now, ref)
		}
	}
	st := c.current(now)
	return func(s *Snapshot) { s.Refused = st }
}

// current is the stats to publish now: the last count, with the log's
// readability and the probe's failures brought up to date.
func (c *pgLogCollector) current(now time.Time) *RefusedStats {
	st := &RefusedStats{}
	if c.stats != nil {
		*st = *c.stats
	}
	st.SampledAt = now
	st.Readable, st.Why, st.Fix = c.readable, c.why, c.fix
	st.ProbeFailures5m = c.probe.inWindow(now)
	return st
}

func (c *pgLogCollector) snapshot(now, ref time.Time) *RefusedStats {
	st := c.count.Stats(ref)
	st.SampledAt, st.Log = now, c.source
	return &st
}

// notReadable is the log being out of reach, with the sentence that says
// what would make it readable.
type notReadable struct{ why, fix string }

func (e *notReadable) Error() string { return e.why }

// pgLogQuery finds the current log file of each structured format and the
// server's wall clock in log_timezone (what the records' times are written
// in). jsonlog exists from PostgreSQL 15; before, the argument is an error,
// so it is asked only there.
const pgLogQuery = `SELECT pg_current_logfile('csvlog'),
  CASE WHEN current_setting('server_version_num')::int >= 150000 THEN pg_current_logfile('jsonlog') END,
  to_char(clock_timestamp() AT TIME ZONE current_setting('log_timezone'), 'YYYY-MM-DD HH24:MI:SS.MS'),
  current_setting('logging_collector'), current_setting('log_destination')`

// pgReadQuery reads raw bytes: pg_read_file would reject a chunk that
// ends inside a multibyte character.
const pgReadQuery = `SELECT pg_read_binary_file($1, $2, $3, true)`

// sqlStateInsufficientPrivilege is what the file functions raise for a role
// without the grant.
const sqlStateInsufficientPrivilege = "42501"

func (c *pgLogCollector) readServer(ctx context.Context) ([]logEvent, time.Time, error) {
	var events []logEvent
	var ref time.Time
	err := c.link.use(ctx, false, func(ctx context.Context, conn *pgx.Conn) error {
		var csvName, jsonName *string
		var now, collector, dest string
		if err := conn.QueryRow(ctx, pgLogQuery).Scan(&csvName, &jsonName, &now, &collector, &dest); err != nil {
			return c.privilege(err, "pg_current_logfile()")
		}
		ref, _ = parseLogTime(now)
		name, format := "", formatCSV
		switch {
		case csvName != nil:
			name = *csvName
		case jsonName != nil:
			name, format = *jsonName, formatJSON
		default:
			fix := "log_destination = 'csvlog' with logging_collector = on, or pg_log.path"
			return &notReadable{why: fmt.Sprintf("PostgreSQL writes no csvlog or jsonlog (logging_collector = %s, log_destination = '%s'): set %s", collector, dest, fix), fix: fix}
		}
		if name != c.tail.name || format != c.tail.format {
			// A new current file: what the old one got after the last
			// read is counted first, then the new one is read from its
			// start. A file is never read from its start twice.
			if c.tail.name != "" {
				old, err := c.drain(ctx, conn)
				if err != nil {
					return err
				}
				events = append(events, old...)
			}
			c.tail = logTail{name: name, format: format}
			c.source = format.String() + " " + name
		}
		more, err := c.drain(ctx, conn)
		events = append(events, more...)
		return err
	})
	return events, ref, err
}

// drain reads the current tail's file from its offset, at most one pass's
// worth.
func (c *pgLogCollector) drain(ctx context.Context, conn *pgx.Conn) ([]logEvent, error) {
	var events []logEvent
	for range pgLogChunksPerPass {
		var data []byte
		if err := conn.QueryRow(ctx, pgReadQuery, c.tail.name, c.tail.offset, int64(pgLogChunk)).Scan(&data); err != nil {
			return events, c.privilege(err, "pg_read_binary_file()")
		}
		events = append(events, c.tail.take(data)...)
		if len(data) < pgLogChunk {
			break
		}
	}
	return events, nil
}

// privilege turns a missing grant into notReadable with the grants to
// give (both functions: a role that lacks one usually lacks the other);
// other errors stay errors.
func (c *pgLogCollector) privilege(err error, what string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlStateInsufficientPrivilege {
		fix := fmt.Sprintf("GRANT EXECUTE ON FUNCTION pg_current_logfile(text), pg_read_binary_file(text, bigint, bigint, boolean) TO %s", c.link.ep.user)
		return &notReadable{why: fmt.Sprintf("role %[1]s may not read the server log with %[2]s: %[3]s (and GRANT pg_read_server_files TO %[1]s when log_directory is outside the data directory)", c.link.ep.user, what, fix), fix: fix}
	}
	return err
}

// readLocal reads the configured file's tail. A file replaced under the
// same path (rotation) is finished on the handle kept open, then the new
// one is read from its start; a file truncated in place is read again from
// its start.
func (c *pgLogCollector) readLocal() ([]logEvent, time.Time, error) {
	ref := wallClock(time.Now())
	info, err := os.Stat(c.cfg.Path)
	if err != nil {
		return nil, ref, c.localError(err)
	}
	var events []logEvent
	if c.file != nil {
		kept, statErr := c.file.Stat()
		if statErr != nil || !os.SameFile(kept, info) {
			events = append(events, c.readFile()...)
			c.close()
		} else if kept.Size() < c.tail.offset {
			c.tail = logTail{name: c.tail.name, format: c.tail.format}
		}
	}
	if c.file == nil {
		f, err := os.Open(c.cfg.Path)
		if err != nil {
			return events, ref, c.localError(err)
		}
		c.file = f
		format := formatCSV
		if strings.HasSuffix(c.cfg.Path, ".json") {
			format = formatJSON
		}
		c.tail = logTail{name: c.cfg.Path, format: format}
		c.source = format.String() + " " + c.cfg.Path
	}
	return append(events, c.readFile()...), ref, nil
}

// readFile reads the open file from the tail's offset, one pass's worth.
func (c *pgLogCollector) readFile() []logEvent {
	var events []logEvent
	buf := make([]byte, pgLogChunk)
	for range pgLogChunksPerPass {
		n, err := c.file.ReadAt(buf, c.tail.offset)
		events = append(events, c.tail.take(buf[:n])...)
		if err != nil || n < len(buf) {
			break
		}
	}
	return events
}

func (c *pgLogCollector) localError(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return &notReadable{why: fmt.Sprintf("slotwatch may not read pg_log.path %s: give its user read access (log_file_mode, or the postgres group)", c.cfg.Path), fix: "read access to pg_log.path"}
	case errors.Is(err, fs.ErrNotExist):
		return &notReadable{why: fmt.Sprintf("pg_log.path %s does not exist: check the path and that logging_collector writes a csvlog or jsonlog there", c.cfg.Path), fix: "pg_log.path does not exist"}
	}
	return &notReadable{why: fmt.Sprintf("cannot read pg_log.path %s: %v", c.cfg.Path, err), fix: "pg_log.path unreadable"}
}

// wallClock is t's wall clock in the local zone labelled UTC, as log times
// are parsed.
func wallClock(t time.Time) time.Time {
	l := t.Local()
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}
