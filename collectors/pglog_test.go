package collectors

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// csv records as PostgreSQL 12 (23 fields), 13 (24: backend_type) and 14+
// (26: leader_pid, query_id) write them; the second has a newline inside
// its quoted message.
const (
	csv12   = `2024-01-21 15:02:00.123 UTC,"app","talentflow",20601,"10.0.3.11:5011",65ad1,1,"startup",2024-01-21 15:02:00 UTC,,0,FATAL,53300,"sorry, too many clients already",,,,,,,,,""` + "\n"
	csv13   = `2024-01-21 15:02:01.000 UTC,"app","nodb",20602,"10.0.3.11:5012",65ad2,1,"startup",2024-01-21 15:02:01 UTC,,0,FATAL,3D000,"database ""nodb""` + "\n" + `does not exist",,,,,,,,,"","client backend"` + "\n"
	csv14   = `2024-01-21 15:02:02.500 UTC,"app","talentflow",20603,"10.0.3.11:5013",65ad3,1,"authentication",2024-01-21 15:02:02 UTC,3/1,0,FATAL,28P01,"password authentication failed for user ""app""","Connection matched pg_hba.conf line 1",,,,,,,,"","client backend",,0` + "\n"
	csvLog  = `2024-01-21 15:02:03.000 UTC,,,20500,,65ad0,1,,2024-01-21 15:00:00 UTC,,0,LOG,00000,"checkpoint starting: time",,,,,,,,,"","checkpointer",,0` + "\n"
	jsonOne = `{"timestamp":"2024-01-21 15:02:00.123 UTC","user":"app","pid":20601,"error_severity":"FATAL","state_code":"53300","message":"sorry, too many clients already"}` + "\n"
	jsonLog = `{"timestamp":"2024-01-21 15:02:03.000 UTC","pid":20500,"error_severity":"LOG","state_code":"00000","message":"checkpoint"}` + "\n"
)

func states(events []logEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.state)
	}
	return out
}

func TestParseLogEveryVersionsColumns(t *testing.T) {
	buf := []byte(csv12 + csvLog + csv13 + csv14)
	events, used := parseLog(buf, formatCSV)
	if got, want := states(events), []string{"53300", "3D000", "28P01"}; !slices.Equal(got, want) || used != len(buf) {
		t.Fatalf("csv: %v, used %d of %d; want %v, all", got, used, len(buf), want)
	}
	if want := time.Date(2024, 1, 21, 15, 2, 0, 123e6, time.UTC); !events[0].at.Equal(want) {
		t.Fatalf("log time %v, want %v", events[0].at, want)
	}
	events, used = parseLog([]byte(jsonLog+jsonOne), formatJSON)
	if got := states(events); !slices.Equal(got, []string{"53300"}) || used != len(jsonLog+jsonOne) {
		t.Fatalf("json: %v, used %d", got, used)
	}
}

// A record cut by the end of a read (inside a quoted newline, or before its
// newline) is counted once, when the rest arrives.
func TestParseLogWaitsForTheRestOfARecord(t *testing.T) {
	whole := csv12 + csv13 + csv14
	for cut := 1; cut < len(whole); cut++ {
		tail := logTail{format: formatCSV}
		got := append(tail.take([]byte(whole[:cut])), tail.take([]byte(whole[cut:]))...)
		if s := states(got); !slices.Equal(s, []string{"53300", "3D000", "28P01"}) {
			t.Fatalf("cut at %d: %v", cut, s)
		}
	}
}

// FuzzParseLog: any bytes, split anywhere, give the same refusals as read
// in one piece, and never panic.
func FuzzParseLog(f *testing.F) {
	f.Add([]byte(csv12+csv13+csv14+csvLog), 40, false)
	f.Add([]byte(jsonOne+jsonLog+jsonOne), 10, true)
	f.Add([]byte("\"unclosed\n,FATAL,53300\n"+csv12), 3, false)
	f.Add([]byte("a\"b,c\n"+csv12), 2, false)
	f.Fuzz(func(t *testing.T, data []byte, cut int, json bool) {
		format := formatCSV
		if json {
			format = formatJSON
		}
		events, used := parseLog(data, format)
		if used < 0 || used > len(data) {
			t.Fatalf("consumed %d of %d bytes", used, len(data))
		}
		for _, e := range events {
			if !isRefusal("FATAL", e.state) {
				t.Fatalf("counted %q, not a refusal SQLSTATE", e.state)
			}
		}
		if len(data) == 0 {
			return
		}
		cut = ((cut % len(data)) + len(data)) % len(data)
		whole := logTail{format: format}
		split := logTail{format: format}
		a := states(whole.take(data))
		b := states(append(split.take(data[:cut]), split.take(data[cut:])...))
		if !slices.Equal(a, b) {
			t.Fatalf("read whole: %v; split at %d: %v", a, cut, b)
		}
	})
}

// refusedServer is a throwaway server whose csvlog (and jsonlog) records
// refusals: usable slots 5, a scram role "app" and a trusted role "filler".
func refusedServer(t *testing.T) *testserver.Postgres {
	t.Helper()
	srv := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 8, SuperuserReservedConns: 3,
		StructuredLog: true, HBA: []string{"host all app 127.0.0.1/32 scram-sha-256"},
		Settings: map[string]string{"log_filename": "'postgresql-%H%M%S'"}})
	srv.Psql(t, "postgres", "CREATE ROLE app LOGIN PASSWORD 'right'; CREATE ROLE filler LOGIN; CREATE ROLE monitor LOGIN")
	return srv
}

// refuse makes n connection attempts of dsn that must each be refused with
// state.
func refuse(t *testing.T, dsn, state string, n int) {
	t.Helper()
	for range n {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			conn.Close(context.Background())
			t.Fatalf("connecting as %s succeeded; want SQLSTATE %s", RedactDSN(dsn), state)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != state {
			t.Fatalf("connecting as %s: %v; want SQLSTATE %s", RedactDSN(dsn), err, state)
		}
	}
}

// sampleUntil collects until the stats satisfy ok (the logger process
// writes a moment after the refusal) or 10 s passed.
func sampleUntil(t *testing.T, c *pgLogCollector, ok func(*RefusedStats) bool) *RefusedStats {
	t.Helper()
	var s Snapshot
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.collect(context.Background())(&s)
		if ok(s.Refused) || time.Now().After(deadline) {
			return s.Refused
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantCounts(t *testing.T, st *RefusedStats, total int64, by map[string]int64) {
	t.Helper()
	if !st.Readable || st.Total != total || st.Last5m != int(total) {
		t.Fatalf("refused %+v; want readable, total and last 5m %d", st, total)
	}
	for state, n := range by {
		if st.BySQLState[state] != n {
			t.Fatalf("refused by SQLSTATE %v; want %s = %d", st.BySQLState, state, n)
		}
	}
}

func TestPGLogCountsTheServersRefusals(t *testing.T) {
	srv := refusedServer(t)
	link := newPGLink(srv.DSN, "slotwatch", 2*time.Second, 5*time.Second, newOwnBackends())
	t.Cleanup(link.shutdown)
	c := newPGLogCollector(PGLogConfig{}, link, &probeFailures{})
	t.Cleanup(c.close)
	st := sampleUntil(t, c, func(st *RefusedStats) bool { return st.Readable })
	wantCounts(t, st, 0, nil)
	if !strings.HasPrefix(st.Log, "csvlog ") {
		t.Fatalf("log %q; want the csvlog", st.Log)
	}

	refuse(t, fmt.Sprintf("postgres://app:wrong@%s:%d/postgres?sslmode=disable", srv.Host, srv.Port), "28P01", 2)
	refuse(t, srv.DSNFor("filler", "nodb"), "3D000", 1)
	// The collector holds one slot: four more fill the five usable ones.
	held := testserver.ConnectMany(t, srv.DSNFor("filler", "postgres"), 4)
	defer func() {
		for _, c := range held {
			c.Close(context.Background())
		}
	}()
	refuse(t, srv.DSNFor("filler", "postgres"), SQLStateTooManyConnections, 3)
	st = sampleUntil(t, c, func(st *RefusedStats) bool { return st.Total >= 6 })
	wantCounts(t, st, 6, map[string]int64{"28P01": 2, "3D000": 1, "53300": 3})

	// Refusals on both sides of a rotation, none read in between: each is
	// counted once, the old file's rest first.
	before := st.Log
	refuse(t, srv.DSNFor("filler", "postgres"), SQLStateTooManyConnections, 1)
	time.Sleep(1100 * time.Millisecond) // log_filename has seconds: a new name
	srv.Psql(t, "postgres", "SELECT pg_rotate_logfile()")
	time.Sleep(300 * time.Millisecond)
	refuse(t, srv.DSNFor("filler", "postgres"), SQLStateTooManyConnections, 1)
	st = sampleUntil(t, c, func(st *RefusedStats) bool { return st.Total >= 8 && st.Log != before })
	if st.Log == before {
		t.Fatalf("still reading %s after pg_rotate_logfile", before)
	}
	// A few more passes must not read anything twice.
	for range 3 {
		st = sampleUntil(t, c, func(*RefusedStats) bool { return true })
	}
	wantCounts(t, st, 8, map[string]int64{"53300": 5})
}

// The same log read as a local file counts the same.
func TestPGLogLocalPath(t *testing.T) {
	srv := refusedServer(t)
	name := srv.Psql(t, "postgres", "SELECT pg_current_logfile('csvlog')")
	path := filepath.Join(srv.Dir, "data", name)
	c := newPGLogCollector(PGLogConfig{Path: path}, nil, &probeFailures{})
	t.Cleanup(c.close)
	wantCounts(t, sampleUntil(t, c, func(st *RefusedStats) bool { return st.Readable }), 0, nil)
	refuse(t, srv.DSNFor("filler", "nodb"), "3D000", 2)
	wantCounts(t, sampleUntil(t, c, func(st *RefusedStats) bool { return st.Total >= 2 }), 2, map[string]int64{"3D000": 2})

	missing := newPGLogCollector(PGLogConfig{Path: path + ".gone"}, nil, &probeFailures{})
	if st := sampleUntil(t, missing, func(*RefusedStats) bool { return true }); st.Readable || !strings.Contains(st.Why, "does not exist") {
		t.Fatalf("missing file: %+v", st)
	}
}

// A role without the grants is told which one is missing, and the
// probe's failures are counted instead.
func TestPGLogNotReadableFallsBackToTheProbe(t *testing.T) {
	srv := refusedServer(t)
	own := newOwnBackends()
	link := newPGLink(srv.DSNFor("monitor", "postgres"), "slotwatch", 2*time.Second, 5*time.Second, own)
	t.Cleanup(link.shutdown)
	failures := &probeFailures{}
	pr := newProbe(ProbeConfig{DSN: srv.DSNFor("filler", "nodb"), ConnectTimeout: 5 * time.Second}, own)
	pr.failures = failures
	for range 3 {
		var s Snapshot
		s.Errors = map[string]string{}
		pr.collect(context.Background())(&s)
	}
	c := newPGLogCollector(PGLogConfig{}, link, failures)
	st := sampleUntil(t, c, func(*RefusedStats) bool { return true })
	grant := "GRANT EXECUTE ON FUNCTION pg_current_logfile(text), pg_read_binary_file(text, bigint, bigint, boolean) TO monitor"
	if st.Readable || !strings.Contains(st.Why, grant) || !strings.Contains(st.Why, "pg_current_logfile()") || st.ProbeFailures5m != 3 {
		t.Fatalf("unprivileged: %+v; want not readable, the grant, 3 probe failures", st)
	}

	srv.Psql(t, "postgres", "GRANT EXECUTE ON FUNCTION pg_current_logfile(text) TO monitor")
	c = newPGLogCollector(PGLogConfig{}, link, failures)
	st = sampleUntil(t, c, func(*RefusedStats) bool { return true })
	if st.Readable || !strings.Contains(st.Why, grant) || !strings.Contains(st.Why, "pg_read_binary_file()") {
		t.Fatalf("with pg_current_logfile only: %+v; want the pg_read_binary_file grant", st)
	}

	// The documented least-privilege setup reads the log.
	srv.Psql(t, "postgres", grant)
	c = newPGLogCollector(PGLogConfig{}, link, failures)
	if st = sampleUntil(t, c, func(st *RefusedStats) bool { return st.Total >= 3 }); !st.Readable || st.BySQLState["3D000"] != 3 {
		t.Fatalf("with both grants: %+v; want readable, the probe's three 3D000 refusals", st)
	}
}
