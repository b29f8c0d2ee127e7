package benchlive

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
// run's figures as benchmark metrics.
func BenchmarkLiveCostPerRefresh(b *testing.B) {
	var t testing.TB = b
	s := fromEnv(t)
	bin := buildSlotwatch(t)
	fmt.Printf("| backends | own CPU per refresh | peak RSS | server ms per refresh | queries per refresh |\n|---|---|---|---|---|\n")
	var breakdown []string
	for _, n := range s.backends {
		r := measurePostgres(t, bin, n, s.window)
		b.ReportMetric(r.cpuMS, "cpu-ms/refresh")
		b.ReportMetric(r.serverMS, "server-ms/refresh")
		b.ReportMetric(r.rssMB, "peak-rss-MB")
		fmt.Printf("| %d | %.1f ms | %.1f MB | %.2f | %.2f |\n", n, r.cpuMS, r.rssMB, r.serverMS, r.queries)
		breakdown = append(breakdown, r.breakdown...)
	}
	fmt.Printf("\n| backends | statement | calls per refresh | server ms per call | server ms per refresh |\n|---|---|---|---|---|\n")
	for _, line := range breakdown {
		fmt.Println(line)
	}
	fmt.Printf("\n| Redis clients | Redis µs per CLIENT LIST | CLIENT LIST calls per refresh | own CPU per refresh |\n|---|---|---|---|\n")
	for _, n := range s.redisClients {
		r := measureRedis(t, bin, n, s.window)
		fmt.Printf("| %d | %.0f | %.2f | %.1f ms |\n", n, r.usecPerCall, r.callsPerRefresh, r.cpuMS)
	}
}

type pgResult struct {
	cpuMS, rssMB, serverMS, queries float64
	breakdown                       []string // table rows: the server time per statement
}

func measurePostgres(t testing.TB, bin string, n int, window time.Duration) pgResult {
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: n + 60,
		Settings: map[string]string{"shared_preload_libraries": "'pg_stat_statements'", "pg_stat_statements.track": "all"}})
	pg.Psql(t, "postgres", `CREATE EXTENSION pg_stat_statements; CREATE ROLE bench SUPERUSER LOGIN;
		CREATE ROLE app LOGIN; CREATE TABLE jobs (id int PRIMARY KEY, n int); INSERT INTO jobs VALUES (1, 0); GRANT ALL ON jobs TO app`)
	holdMix(t, pg, n)
	dsn := pg.DSNFor("bench", "postgres")
	proc := runInTmux(t, bin, fmt.Sprintf("pg-%d", n), "watch", "--pg", dsn, "--read-only", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"))
	defer proc.stop(t)
	time.Sleep(5 * time.Second) // warm up: first reads of names and settings
	pg.Psql(t, "postgres", "SELECT pg_stat_statements_reset()")
	cpu0 := proc.cpu(t)
	time.Sleep(window)
	cpu1 := proc.cpu(t)
	refreshes := window.Seconds() // the default 1 s interval
	var ms, calls float64
	out := pg.Psql(t, "postgres", `SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) FROM pg_stat_statements
		WHERE userid = 'bench'::regrole AND query NOT ILIKE '%pg_stat_statements%'`)
	if _, err := fmt.Sscanf(strings.ReplaceAll(out, "|", " "), "%g %g", &ms, &calls); err != nil {
		t.Fatalf("read pg_stat_statements %q: %v", out, err)
	}
	if calls == 0 {
		t.Fatalf("pg_stat_statements saw no query from slotwatch in %s at %d backends", window, n)
	}
	return pgResult{cpuMS: (cpu1 - cpu0).Seconds() * 1000 / refreshes, rssMB: proc.peakRSSMB(t), serverMS: ms / refreshes,
		queries: calls / refreshes, breakdown: statementBreakdown(t, pg, n, refreshes)}
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

type redisResult struct{ usecPerCall, callsPerRefresh, cpuMS float64 }

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
	cpu0 := proc.cpu(t)
	time.Sleep(window)
	cpu1 := proc.cpu(t)
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
	return redisResult{usecPerCall: usec / calls, callsPerRefresh: calls / window.Seconds(), cpuMS: (cpu1 - cpu0).Seconds() * 1000 / window.Seconds()}
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

// process is the slotwatch binary running inside tmux.
type process struct{ pid int }

// With SLOTWATCH_BENCH_CPUPROFILE=DIR the process writes a CPU profile of
// the whole run to DIR/name.pprof (SLOTWATCH_CPUPROFILE), flushed when stop
// ends it.
func runInTmux(t testing.TB, bin, name string, args ...string) process {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	socket := fmt.Sprintf("slotwatch-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmdline := bin
	if dir := os.Getenv("SLOTWATCH_BENCH_CPUPROFILE"); dir != "" {
		cmdline = "SLOTWATCH_CPUPROFILE='" + strings.ReplaceAll(filepath.Join(dir, name+".pprof"), "'", `'\''`) + "' " + bin
	}
	for _, a := range args {
		cmdline += " '" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	if out, err := exec.Command("tmux", "-L", socket, "new-session", "-d", "-x", "200", "-y", "50", "-s", "bench",
		"env TERM=xterm-256color "+cmdline).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if pid := findPID(bin); pid > 0 {
			return process{pid: pid}
		}
	}
	t.Fatalf("slotwatch did not start in tmux")
	return process{}
}

func findPID(bin string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
			return pid
		}
	}
	return 0
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
