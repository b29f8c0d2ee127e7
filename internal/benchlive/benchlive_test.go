package benchlive

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// settings come from the environment, so scripts/bench-live can run the
// full measurement and CI a smoke run of a few seconds.
type settings struct {
	backends     []int
	redisClients []int
	window       time.Duration
}

func fromEnv(t testing.TB) settings {
	t.Helper()
	if os.Getenv("SLOTWATCH_BENCH_LIVE") == "" {
		t.Skip("set SLOTWATCH_BENCH_LIVE=1 (scripts/bench-live does) to measure the real binary")
	}
	s := settings{backends: ints(t, "SLOTWATCH_BENCH_BACKENDS", "100,1000"), redisClients: ints(t, "SLOTWATCH_BENCH_REDIS_CLIENTS", "1000"),
		window: 60 * time.Second}
	if v := os.Getenv("SLOTWATCH_BENCH_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3600 {
			t.Fatalf("SLOTWATCH_BENCH_SECONDS=%q: want whole seconds from 1 to 3600", v)
		}
		s.window = time.Duration(n) * time.Second
	}
	return s
}

func ints(t testing.TB, name, def string) []int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 20000 {
			t.Fatalf("%s=%q: want a comma-separated list of counts up to 20000", name, v)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkLiveCostPerRefresh is one measurement whatever b.N (run it with
// -benchtime 1x): it prints the tables and reports the last PostgreSQL
// run's figures as benchmark metrics. pg_activity, when installed, is
// measured on the same server and load right after slotwatch.
func BenchmarkLiveCostPerRefresh(b *testing.B) {
	var t testing.TB = b
	s := fromEnv(t)
	bin := buildSlotwatch(t)
	fmt.Printf("| backends | console | own CPU per refresh | peak RSS | server ms per refresh | PostgreSQL's floor (fastest of 30), ms | server time / floor | queries per refresh | terminal bytes per second |\n|---|---|---|---|---|---|---|---|---|\n")
	var breakdown []string
	for _, n := range s.backends {
		runs := measurePostgres(t, bin, n, s.window)
		r := runs[0]
		b.ReportMetric(r.cpuMS, "cpu-ms/refresh")
		b.ReportMetric(r.serverMS, "server-ms/refresh")
		b.ReportMetric(r.serverMS/r.floorMS, "server/floor")
		b.ReportMetric(r.rssMB, "peak-rss-MB")
		b.ReportMetric(r.bytesPerSec, "terminal-B/s")
		for _, r := range runs {
			fmt.Printf("| %d | %s | %.1f ms | %.1f MB | %.2f | %.2f | %.2f× | %.2f | %.2f KB/s |\n", n, r.console, r.cpuMS, r.rssMB, r.serverMS,
				r.floorMS, r.serverMS/r.floorMS, r.queries, r.bytesPerSec/1000)
		}
		breakdown = append(breakdown, r.breakdown...)
	}
	fmt.Printf("\n| backends | statement | calls per refresh | server ms per call | server ms per refresh |\n|---|---|---|---|---|\n")
	for _, line := range breakdown {
		fmt.Println(line)
	}
	fmt.Printf("\n| Redis clients | Redis µs per CLIENT LIST | CLIENT LIST calls per refresh | own CPU per refresh | terminal bytes per second |\n|---|---|---|---|---|\n")
	for _, n := range s.redisClients {
		r := measureRedis(t, bin, n, s.window)
		fmt.Printf("| %d | %.0f | %.2f | %.1f ms | %.2f KB/s |\n", n, r.usecPerCall, r.callsPerRefresh, r.cpuMS, r.bytesPerSec/1000)
	}
}

type pgResult struct {
	console                         string
	cpuMS, rssMB, serverMS, queries float64
	floorMS                         float64 // PostgreSQL's own cost of listing every backend, per call
	bytesPerSec                     float64
	breakdown                       []string // table rows: the server time per statement
}

// measurePostgres holds n backends and measures slotwatch and then, when
// they are on PATH, pg_activity and pgcenter on them, each at a 1 s refresh.
func measurePostgres(t testing.TB, bin string, n int, window time.Duration) []pgResult {
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: n + 60,
		Settings: map[string]string{"shared_preload_libraries": "'pg_stat_statements'", "pg_stat_statements.track": "all"}})
	pg.Psql(t, "postgres", `CREATE EXTENSION pg_stat_statements; CREATE ROLE bench SUPERUSER LOGIN;
		CREATE ROLE app LOGIN; CREATE TABLE jobs (id int PRIMARY KEY, n int); INSERT INTO jobs VALUES (1, 0); GRANT ALL ON jobs TO app`)
	holdMix(t, pg, n)
	dsn := pg.DSNFor("bench", "postgres")
	proc := runInTmux(t, bin, fmt.Sprintf("pg-%d", n), "watch", "--pg", dsn, "--read-only", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"))
	r := measureConsole(t, pg, proc, "slotwatch", window)
	r.breakdown = statementBreakdown(t, pg, n, window.Seconds())
	r.floorMS = floorMS(t, pg)
	runs := []pgResult{r}
	if pga, err := exec.LookPath("pg_activity"); err == nil {
		// pg_activity's defaults, but the refresh of the others and no
		// database size (a sum over every database's files each refresh).
		proc := runCommandInTmux(t, fmt.Sprintf("pg_activity-%d", n), "", pga, "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", "bench", "-d", "postgres",
			"--refresh", "1", "--no-db-size")
		r := measureConsole(t, pg, proc, "pg_activity", window)
		r.floorMS = runs[0].floorMS
		runs = append(runs, r)
	}
	if pgc, err := exec.LookPath("pgcenter"); err == nil {
		// pgcenter top refreshes every second by default.
		proc := runCommandInTmux(t, fmt.Sprintf("pgcenter-%d", n), "", pgc, "top", "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", "bench", "-d", "postgres")
		r := measureConsole(t, pg, proc, "pgcenter", window)
		r.floorMS = runs[0].floorMS
		runs = append(runs, r)
	}
	return runs
}

// measureConsole lets a console warm up, then counts over the window its
// CPU, the server time and queries of role bench (pg_stat_statements) and
// the bytes it writes to its terminal; it stops the console.
func measureConsole(t testing.TB, pg *testserver.Postgres, proc process, console string, window time.Duration) pgResult {
	t.Helper()
	defer proc.stop(t)
	time.Sleep(5 * time.Second) // warm up: first reads of names and settings, the first full paint
	pg.Psql(t, "postgres", "SELECT pg_stat_statements_reset()")
	proc.countBytes(t)
	cpu0 := proc.cpu(t)
	time.Sleep(window)
	cpu1 := proc.cpu(t)
	written := proc.bytesWritten(t)
	refreshes := window.Seconds() // a 1 s interval
	var ms, calls float64
	out := pg.Psql(t, "postgres", `SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) FROM pg_stat_statements
		WHERE userid = 'bench'::regrole AND query NOT ILIKE '%pg_stat_statements%'`)
	if _, err := fmt.Sscanf(strings.ReplaceAll(out, "|", " "), "%g %g", &ms, &calls); err != nil {
		t.Fatalf("read pg_stat_statements %q: %v", out, err)
	}
	if calls == 0 {
		t.Fatalf("pg_stat_statements saw no query from %s in %s", console, window)
	}
	return pgResult{console: console, cpuMS: (cpu1 - cpu0).Seconds() * 1000 / refreshes, rssMB: proc.peakRSSMB(t), serverMS: ms / refreshes,
		queries: calls / refreshes, bytesPerSec: float64(written) / window.Seconds()}
}

// floorQuery is what PostgreSQL itself spends listing every backend:
// pg_stat_get_activity builds every column of every row whatever the query
// selects, so no console's listing can cost less.
const floorQuery = `SELECT count(*) FROM pg_stat_get_activity(NULL)`

// floorMS is floorQuery's fastest server time of 30 calls as role bench,
// read once slotwatch's own statements have been counted. Its backend
// keeps its memory between statements as slotwatch's collector's does
// (one large allocation raises glibc's trim threshold:
// collectors.keepBackendMemory); without that every listing faults the
// status snapshot's memory in again and costs more than slotwatch's whole
// activity query.
func floorMS(t testing.TB, pg *testserver.Postgres) float64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSNFor("bench", "postgres"))
	if err != nil {
		t.Fatalf("connect to measure the floor: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT length(repeat('x', 16 << 20))"); err != nil {
		t.Fatalf("warm the floor's backend: %v", err)
	}
	for range 3 {
		if _, err := conn.Exec(ctx, floorQuery); err != nil {
			t.Fatalf("%s: %v", floorQuery, err)
		}
	}
	pg.Psql(t, "postgres", "SELECT pg_stat_statements_reset()")
	for range 30 {
		if _, err := conn.Exec(ctx, floorQuery); err != nil {
			t.Fatalf("%s: %v", floorQuery, err)
		}
	}
	var ms float64
	out := pg.Psql(t, "postgres", `SELECT coalesce(min(min_exec_time), 0) FROM pg_stat_statements
		WHERE userid = 'bench'::regrole AND query LIKE '%count(*) FROM pg_stat_get_activity%'`)
	if _, err := fmt.Sscanf(out, "%g", &ms); err != nil || ms <= 0 {
		t.Fatalf("read the floor's server time %q: %v", out, err)
	}
	return ms
}

// statementBreakdown is the server time of each of slotwatch's statements,
// named by the first words of its text, as table rows.
func statementBreakdown(t testing.TB, pg *testserver.Postgres, n int, refreshes float64) []string {
	out := pg.Psql(t, "postgres", `SELECT regexp_replace(left(query, 48), '\s+', ' ', 'g'), calls, total_exec_time
		FROM pg_stat_statements WHERE userid = 'bench'::regrole AND query NOT ILIKE '%pg_stat_statements%'
		ORDER BY total_exec_time DESC`)
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			continue
		}
		calls, err1 := strconv.ParseFloat(f[1], 64)
		total, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || calls == 0 {
			t.Fatalf("read pg_stat_statements row %q", line)
		}
		rows = append(rows, fmt.Sprintf("| %d | `%s…` | %.2f | %.2f | %.2f |", n, strings.ReplaceAll(f[0], "|", "/"), calls/refreshes, total/calls, total/refreshes))
	}
	return rows
}

// holdMix holds n backends: 60 % idle, 20 % idle in transaction (one of them
// holding the row lock), 10 % active in pg_sleep, 10 % waiting on that row.
func holdMix(t testing.TB, pg *testserver.Postgres, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	conns := testserver.ConnectMany(t, pg.DSNFor("app", "postgres")+"&application_name=bench-app", n)
	t.Cleanup(func() {
		cancel()
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
		wg.Wait()
	})
	idleTx, active, waiting := n/5, n/10, n/10
	run := func(c *pgx.Conn, sqls ...string) {
		for _, q := range sqls {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	for i, c := range conns {
		switch {
		case i == 0:
			run(c, "BEGIN", "UPDATE jobs SET n = n + 1 WHERE id = 1")
		case i < idleTx:
			run(c, "BEGIN", "SELECT 1")
		case i < idleTx+active:
			wg.Go(func() { _, _ = c.Exec(ctx, "SELECT pg_sleep(3600)") })
		case i < idleTx+active+waiting:
			wg.Go(func() { _, _ = c.Exec(ctx, "UPDATE jobs SET n = n + 1 WHERE id = 1") })
		default:
			run(c, "SELECT 1")
		}
	}
	want := strconv.Itoa(waiting)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if got := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"); got == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s sessions wait on the row lock after 60 s, want %s", got, want)
		}
	}
}

type redisResult struct{ usecPerCall, callsPerRefresh, cpuMS, bytesPerSec float64 }

func measureRedis(t testing.TB, bin string, n int, window time.Duration) redisResult {
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: n + 100})
	for i := range n {
		c, err := net.Dial("tcp", rds.Addr)
		if err != nil {
			t.Fatalf("hold Redis client %d of %d: %v", i+1, n, err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "CLIENT SETNAME bench-%d\r\n", i)
	}
	proc := runInTmux(t, bin, fmt.Sprintf("redis-%d", n), "watch", "--redis", rds.URL, "--read-only", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"))
	defer proc.stop(t)
	time.Sleep(3 * time.Second)
	redisCLI(t, rds, "CONFIG", "RESETSTAT")
	proc.countBytes(t)
	cpu0 := proc.cpu(t)
	time.Sleep(window)
	cpu1 := proc.cpu(t)
	written := proc.bytesWritten(t)
	stats := redisCLI(t, rds, "INFO", "commandstats")
	calls, usec := 0.0, 0.0
	for _, line := range strings.Split(stats, "\n") {
		if !strings.HasPrefix(line, "cmdstat_client|list:") {
			continue
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "cmdstat_client|list:")), ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls = f
			case "usec":
				usec = f
			}
		}
	}
	if calls == 0 {
		t.Fatalf("Redis saw no CLIENT LIST from slotwatch in %s at %d clients:\n%s", window, n, stats)
	}
	return redisResult{usecPerCall: usec / calls, callsPerRefresh: calls / window.Seconds(), cpuMS: (cpu1 - cpu0).Seconds() * 1000 / window.Seconds(),
		bytesPerSec: float64(written) / window.Seconds()}
}

func redisCLI(t testing.TB, r *testserver.Redis, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(r.Addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func buildSlotwatch(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "slotwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/slotwatch").CombinedOutput(); err != nil {
		t.Fatalf("build slotwatch: %v\n%s", err, out)
	}
	return bin
}

// process is a console running inside tmux, and the file its pane's output
// is copied to while the bytes are counted.
type process struct {
	pid    int
	socket string
	tee    string
}

// With SLOTWATCH_BENCH_CPUPROFILE=DIR slotwatch writes a CPU profile of
// the whole run to DIR/name.pprof (SLOTWATCH_CPUPROFILE), flushed when stop
// ends it.
func runInTmux(t testing.TB, bin, name string, args ...string) process {
	t.Helper()
	env := ""
	if dir := os.Getenv("SLOTWATCH_BENCH_CPUPROFILE"); dir != "" {
		env = "SLOTWATCH_CPUPROFILE=" + quote(filepath.Join(dir, name+".pprof")) + " "
	}
	return runCommandInTmux(t, name, env, bin, args...)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runCommandInTmux starts bin in a detached tmux pane of 200×50 and finds
// its process (the pane's shell execs it). With SLOTWATCH_BENCH_PANE_DIR=DIR
// what it writes to its terminal while the bytes are counted is kept in
// DIR/name.out, to see what it rewrites.
func runCommandInTmux(t testing.TB, name, env, bin string, args ...string) process {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	socket := fmt.Sprintf("slotwatch-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmdline := "exec env TERM=xterm-256color " + env + quote(bin)
	for _, a := range args {
		cmdline += " " + quote(a)
	}
	if out, err := exec.Command("tmux", "-L", socket, "new-session", "-d", "-x", "200", "-y", "50", "-s", "bench",
		cmdline).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })
	exe, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatalf("resolve %s: %v", bin, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := exec.Command("tmux", "-L", socket, "display-message", "-p", "-t", "bench", "#{pane_pid}").Output()
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		if pid > 0 && (exePath(pid) == exe || cmdlineHas(pid, bin)) {
			dir := os.Getenv("SLOTWATCH_BENCH_PANE_DIR")
			if dir == "" {
				dir = t.TempDir()
			}
			return process{pid: pid, socket: socket, tee: filepath.Join(dir, name+".out")}
		}
	}
	t.Fatalf("%s did not start in tmux", bin)
	return process{}
}

func exePath(pid int) string {
	exe, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	return exe
}

// cmdlineHas tells an interpreted console (pg_activity runs in python3)
// by its script among the arguments.
func cmdlineHas(pid int, bin string) bool {
	raw, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return slices.Contains(strings.Split(string(raw), "\x00"), bin)
}

// countBytes starts copying what the console writes to its terminal to a
// file (tmux pipe-pane: the bytes tmux reads from the pane's pty, before it
// renders them for its own client).
func (p process) countBytes(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("tmux", "-L", p.socket, "pipe-pane", "-o", "-t", "bench", "cat > "+quote(p.tee)).CombinedOutput(); err != nil {
		t.Fatalf("tmux pipe-pane: %v\n%s", err, out)
	}
}

// bytesWritten stops the copy and returns how many bytes it took.
func (p process) bytesWritten(t testing.TB) int64 {
	t.Helper()
	if out, err := exec.Command("tmux", "-L", p.socket, "pipe-pane", "-t", "bench").CombinedOutput(); err != nil {
		t.Fatalf("tmux pipe-pane off: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond) // cat drains its pipe and exits
	st, err := os.Stat(p.tee)
	if err != nil {
		t.Fatalf("nothing was copied from the pane: %v", err)
	}
	return st.Size()
}

// stop ends the process as a closed terminal would (SIGHUP: it flushes its
// profile and closes its connections) and waits for it to exit.
func (p process) stop(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(p.pid, syscall.SIGHUP); err != nil {
		return // already gone
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
		if err != nil || strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))[0] == "Z" {
			return // gone, or exited and not yet reaped by tmux
		}
	}
	t.Errorf("slotwatch (pid %d) did not exit within 10 s of SIGHUP", p.pid)
}

// cpu is the process's user + system time so far.
func (p process) cpu(t testing.TB) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		t.Fatalf("slotwatch exited during the measurement: %v", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration((utime + stime) / clockTicks * float64(time.Second))
}

func (p process) peakRSSMB(t testing.TB) float64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		t.Fatalf("read slotwatch's status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
