package recording

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/slotwatch/slotwatch/collectors"
)

var t0 = time.Date(2024, 1, 21, 15, 40, 0, 0, time.UTC)

// incidentSnapshot is a snapshot the size of the TalentFlow incident at its
// peak: 95 PostgreSQL sessions (77 idle, 3 idle in transaction, 15 active)
// and ~190 Redis clients, with the query texts Django sends.
func incidentSnapshot(i int) collectors.Snapshot {
	at := t0.Add(time.Duration(i) * time.Second)
	queries := []string{
		`SELECT "candidates_candidate"."id", "candidates_candidate"."name", "candidates_candidate"."email" FROM "candidates_candidate" ORDER BY "candidates_candidate"."created_at" DESC LIMIT 21`,
		`SELECT COUNT(*) AS "__count" FROM "jobs_application" WHERE "jobs_application"."job_id" = 12345`,
		`UPDATE "jobs_job" SET "status" = 'open' WHERE "jobs_job"."id" = 12345`,
		`SELECT "analytics_report"."id", "analytics_report"."payload" FROM "analytics_report" WHERE "analytics_report"."week" = '2024-03'`,
	}
	pg := &collectors.PGStats{
		Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, Target: "10.0.0.5:5432/talentflow",
		ServerVersion: "16.2", ServerVersionNum: 160002, MaxConnections: 100, SuperuserReservedConnections: 3,
		ByState: map[string]int{"idle": 77, "idle in transaction": 3, "active": 15}, Waiting: 5,
	}
	for p := 0; p < 95; p++ {
		s := collectors.Session{PID: int32(4000 + p), BackendStart: t0.Add(-3 * time.Hour), Datname: "talentflow",
			Usename: "talentflow", ApplicationName: "talentflow-web", ClientAddr: fmt.Sprintf("10.0.1.%d", 10+p%4),
			State: "idle", StateSeconds: float64(700 + p), WaitEventType: "Client", WaitEvent: "ClientRead",
			Query: queries[p%len(queries)]}
		switch {
		case p < 15:
			s.State, s.StateSeconds, s.QuerySeconds, s.XactSeconds = "active", 1.2, 1.2, 1.2
			if p < 5 {
				s.WaitEventType, s.WaitEvent, s.BlockedBy = "Lock", "transactionid", []int32{4015}
			}
		case p < 18:
			s.State, s.XactSeconds = "idle in transaction", 135
		}
		pg.Sessions = append(pg.Sessions, s)
	}
	pg.Total = len(pg.Sessions)
	pg.Groups = []collectors.SessionGroup{{ApplicationName: "talentflow-web", Usename: "talentflow", ClientAddr: "10.0.1.10",
		Datname: "talentflow", Total: 95, ByState: pg.ByState, OldestIdleSeconds: 794, OldestBackendSeconds: 10800}}
	rd := &collectors.RedisStats{Sample: pg.Sample, Target: "10.0.0.6:6379/0", ServerVersion: "7.2.4",
		ConnectedClients: 192, MaxClients: 10000, TotalConnectionsReceived: int64(5000 + i), ClientsSampledAt: at,
		ClientListEverySeconds: 1}
	for c := 0; c < 192; c++ {
		rd.Clients = append(rd.Clients, collectors.RedisClient{ID: int64(100 + c), Addr: fmt.Sprintf("10.0.2.7:%d", 40000+c),
			Name: fmt.Sprintf("analytics-cache-%d", c), LibName: "redis-py", AgeSeconds: int64(c * 10), IdleSeconds: int64(c * 10),
			Cmd: "get", Flags: "N"})
	}
	rd.Groups = []collectors.RedisGroup{{Host: "10.0.2.7", Name: "analytics-cache-#", LibName: "redis-py", Count: 192,
		MaxIdleSeconds: 1910, OldestAgeSeconds: 1910}}
	return collectors.Snapshot{TakenAt: at, Postgres: pg, Redis: rd,
		Probe:  &collectors.ProbeResult{SampledAt: at, SQLState: "53300", Error: "remaining connection slots are reserved"},
		Jobs:   &collectors.JobsStats{Sample: pg.Sample, OverCapacity: []collectors.JobCapacity{{ID: "12345", Label: "Senior Backend Engineer", Count: 58, Limit: 50, Excess: 8}}},
		Errors: map[string]string{}}
}

func writeRecording(t *testing.T, path string, n int) {
	t.Helper()
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := w.Write(incidentSnapshot(i)); err != nil {
			t.Fatal(err)
		}
	}
	if w.Count() != n {
		t.Fatalf("Count() = %d, want %d", w.Count(), n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripPlainAndGzip(t *testing.T) {
	for _, name := range []string{"run.jsonl", "run.jsonl.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			writeRecording(t, path, 5)
			snaps, bad, err := ReadFile(path)
			if err != nil || len(bad) != 0 {
				t.Fatalf("ReadFile: err=%v bad=%v", err, bad)
			}
			if len(snaps) != 5 {
				t.Fatalf("read %d snapshots, want 5", len(snaps))
			}
			for i, s := range snaps {
				want := incidentSnapshot(i)
				if !s.TakenAt.Equal(want.TakenAt) || s.Postgres.Total != 95 || len(s.Redis.Clients) != 192 ||
					s.Jobs.OverCapacity[0].Excess != 8 || s.Postgres.Sessions[0].BlockedBy[0] != 4015 {
					t.Fatalf("snapshot %d did not survive the round trip: %+v", i, s.Postgres)
				}
			}
		})
	}
}

func TestGzipOnlyForGzName(t *testing.T) {
	dir := t.TempDir()
	writeRecording(t, filepath.Join(dir, "a.jsonl"), 1)
	writeRecording(t, filepath.Join(dir, "a.jsonl.gz"), 1)
	plain, _ := os.ReadFile(filepath.Join(dir, "a.jsonl"))
	gz, _ := os.ReadFile(filepath.Join(dir, "a.jsonl.gz"))
	if plain[0] != '{' || !bytes.HasSuffix(plain, []byte("}\n")) || bytes.Count(plain, []byte("\n")) != 1 {
		t.Fatalf("plain recording is not one JSON line: %.40q", plain)
	}
	if gz[0] != 0x1f || gz[1] != 0x8b || len(gz) >= len(plain)/3 {
		t.Fatalf("gz recording is not compressed well: %d bytes vs %d plain", len(gz), len(plain))
	}
}

func TestCreateRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl")
	if err := os.WriteFile(path, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(path)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Create over an existing file: err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me\n" {
		t.Fatalf("existing file was changed: %q", b)
	}
}

func TestWriteAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Write(incidentSnapshot(0)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Write after Close: err = %v", err)
	}
}

func TestReaderRejectsBadLinesAndKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl")
	writeRecording(t, path, 4)
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	// line 2 corrupted, a blank line 4, a non-snapshot at 6, and the
	// file cut off in the middle of line 8.
	var b strings.Builder
	b.WriteString(lines[0])
	b.WriteString(`{"taken_at": "2024-01-21T15:40:01Z", "postgres": {"total": ` + "\n")
	b.WriteString(lines[1])
	b.WriteString("\n")
	b.WriteString(lines[2])
	b.WriteString("{}\n")
	b.WriteString(lines[3])
	b.WriteString(lines[3][:len(lines[3])/2])
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	snaps, bad, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 4 {
		t.Fatalf("kept %d snapshots, want the 4 good ones", len(snaps))
	}
	for i, s := range snaps {
		if !s.TakenAt.Equal(t0.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("snapshot %d taken at %v", i, s.TakenAt)
		}
	}
	want := []struct {
		line int
		err  error
	}{{2, nil}, {6, ErrNoTime}, {8, ErrTruncated}}
	if len(bad) != len(want) {
		t.Fatalf("bad lines = %v, want lines 2, 6, 8", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || (w.err != nil && !errors.Is(bad[i], w.err)) {
			t.Fatalf("bad[%d] = %v, want line %d (%v)", i, bad[i], w.line, w.err)
		}
	}
	if !strings.HasPrefix(bad[2].Error(), "line 8: ") || !strings.Contains(bad[0].Error(), "not a valid snapshot") {
		t.Fatalf("messages do not name the line and cause: %q, %q", bad[0].Error(), bad[2].Error())
	}
}

func TestReaderTruncatedGzipKeepsWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl.gz")
	writeRecording(t, path, 6)
	data, _ := os.ReadFile(path)
	// Cut the compressed stream two thirds in: the writer flushed after each
	// line, so the lines before the cut decompress whole.
	cut := data[:len(data)*2/3]
	snaps, bad, err := Scan2(bytes.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) < 3 || len(snaps) > 5 {
		t.Fatalf("kept %d snapshots from a stream cut at 2/3 of 6", len(snaps))
	}
	if len(bad) > 1 || (len(bad) == 1 && (bad[0].Line != len(snaps)+1 || !errors.Is(bad[0], ErrTruncated))) {
		t.Fatalf("bad = %v after %d good lines", bad, len(snaps))
	}
}

func TestReaderCorruptGzip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl.gz")
	writeRecording(t, path, 6)
	data, _ := os.ReadFile(path)
	for i := len(data) / 2; i < len(data)/2+64; i++ {
		data[i] ^= 0xA5
	}
	snaps, bad, err := Scan2(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Deflate has no per-line checksum: garbage may decode into bad lines
	// before the CRC at the end reveals the corruption. Every line before
	// the damage is kept, and the last report says the stream is corrupt.
	if len(snaps) == 0 || len(snaps) >= 6 || len(bad) == 0 || bad[0].Line != len(snaps)+1 {
		t.Fatalf("corrupt gzip: %d snapshots, bad = %v", len(snaps), bad)
	}
	if last := bad[len(bad)-1]; !errors.Is(last, ErrCorruptGz) {
		t.Fatalf("last report = %v, want the corrupt-stream error", last)
	}
	for i, s := range snaps {
		if !s.TakenAt.Equal(t0.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("kept snapshot %d is not the original line: %v", i, s.TakenAt)
		}
	}
}

func TestReaderDropsOverlongLine(t *testing.T) {
	long := `{"taken_at":"2024-01-21T15:40:00Z","errors":{"x":"` + strings.Repeat("a", 200) + `"}}`
	ok := `{"taken_at":"2024-01-21T15:40:01Z","errors":{}}`
	in := bufio.NewReaderSize(strings.NewReader(long+"\n"+ok+"\n"+long+"\n"), 16)
	var got []int
	bad, err := scanLines(in, false, 100, func(n int, _ collectors.Snapshot) error {
		got = append(got, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 2 {
		t.Fatalf("kept lines %v, want [2]", got)
	}
	if len(bad) != 2 || bad[0].Line != 1 || bad[1].Line != 3 || !errors.Is(bad[0], ErrTooLong) {
		t.Fatalf("bad = %v", bad)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, _, err := ReadFile(filepath.Join(t.TempDir(), "nope.jsonl"))
	if err == nil || !strings.Contains(err.Error(), "cannot open the recording") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyGzipHeaderIsCorrupt(t *testing.T) {
	snaps, bad, err := Scan2(bytes.NewReader([]byte{0x1f, 0x8b, 0x00}))
	if err != nil || len(snaps) != 0 || len(bad) != 1 || !errors.Is(bad[0], ErrCorruptGz) {
		t.Fatalf("snaps=%d bad=%v err=%v", len(snaps), bad, err)
	}
}

// Scan2 collects Scan's snapshots, for tests.
func Scan2(r *bytes.Reader) ([]collectors.Snapshot, []LineError, error) {
	var out []collectors.Snapshot
	bad, err := Scan(r, func(_ int, s collectors.Snapshot) error {
		out = append(out, s)
		return nil
	})
	return out, bad, err
}

func FuzzScan(f *testing.F) {
	var plain bytes.Buffer
	for i := 0; i < 2; i++ {
		plain.WriteString(`{"taken_at":"2024-01-21T15:40:0` + fmt.Sprint(i) + `Z","postgres":{"total":3,"sessions":[{"pid":1}]},"errors":{}}` + "\n")
	}
	f.Add(plain.Bytes())
	f.Add([]byte("{}\n\n{\"taken_at\":\n"))
	f.Add([]byte("null\n[]\n\"x\"\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := 0
		prev := 0
		bad, err := Scan(bytes.NewReader(data), func(n int, s collectors.Snapshot) error {
			if n <= prev || s.TakenAt.IsZero() {
				t.Fatalf("line %d after %d, taken_at %v", n, prev, s.TakenAt)
			}
			prev = n
			lines++
			return nil
		})
		if err != nil {
			t.Fatalf("reading from memory failed: %v", err)
		}
		for _, b := range bad {
			if b.Line < 1 || b.Err == nil || !strings.HasPrefix(b.Error(), fmt.Sprintf("line %d: ", b.Line)) {
				t.Fatalf("bad line report %+v", b)
			}
		}
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			if max := bytes.Count(data, []byte("\n")) + 1; lines+len(bad) > max {
				t.Fatalf("%d good + %d bad lines from %d lines", lines, len(bad), max)
			}
		}
	})
}

// TestReadFileSharesRepeatedStrings: a replay holds every snapshot, and the
// same query texts and names repeat in each; reading shares them.
func TestReadFileSharesRepeatedStrings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl")
	writeRecording(t, path, 3)
	snaps, _, err := ReadFile(path)
	if err != nil || len(snaps) != 3 {
		t.Fatalf("read %d, err %v", len(snaps), err)
	}
	a, b := snaps[0], snaps[2]
	for _, pair := range [][2]string{
		{a.Postgres.Sessions[3].Query, b.Postgres.Sessions[3].Query},
		{a.Postgres.Sessions[0].ApplicationName, b.Postgres.Sessions[40].ApplicationName},
		{a.Redis.Clients[7].Name, b.Redis.Clients[7].Name},
		{a.Probe.Error, b.Probe.Error},
	} {
		if pair[0] == "" || unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
			t.Fatalf("%q is stored twice", pair[0])
		}
	}
}

// TestCreateIsOwnerOnly: recordings hold query text, so they are created
// readable by their owner only, plain or compressed.
func TestCreateIsOwnerOnly(t *testing.T) {
	for _, name := range []string{"run.jsonl", "run.jsonl.gz"} {
		path := filepath.Join(t.TempDir(), name)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s created with mode %v, want 0600", name, perm)
		}
	}
}
