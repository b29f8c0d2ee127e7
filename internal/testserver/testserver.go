// Package testserver starts throwaway PostgreSQL and Redis servers for tests:
// real servers from the installed binaries, on a free loopback port, in a
// temporary directory, stopped when the test ends. Tests never mock a server.
package testserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PGOptions are server settings for a throwaway PostgreSQL.
type PGOptions struct {
	MaxConnections         int               // default 100
	SuperuserReservedConns int               // default 3
	Settings               map[string]string // any other postgresql.conf setting
	// PasswordRole, when set, must log in over TCP with a SCRAM password
	// (every other role keeps trust); the test creates the role and its
	// password itself.
	PasswordRole string
	// Bin is the directory of initdb, pg_ctl and postgres; empty means the
	// installed server (SLOTWATCH_TEST_PGBIN, else the newest under
	// /usr/lib/postgresql). The version matrix passes MatrixBins' dirs.
	Bin string
	// HBA lines go before initdb's trust lines in pg_hba.conf, e.g.
	// "host all app 127.0.0.1/32 scram-sha-256" so a wrong password is
	// refused with 28P01.
	HBA []string
	// StructuredLog starts the logging collector writing csvlog (and
	// jsonlog from PostgreSQL 15) under the data directory's log/, so the
	// server's own log records refused connections.
	StructuredLog bool
	// Template is a data directory made by InitTemplate (same Bin): it is
	// copied instead of running initdb, which is several times faster when
	// a test starts many servers.
	Template string
}

// Postgres is a running throwaway server. DSN connects as the superuser
// "postgres" to database "postgres".
type Postgres struct {
	Host string
	Port int
	Dir  string
	DSN  string
	Bin  string // directory of the server binaries
}

// DSNFor returns a DSN for user on database db.
func (p *Postgres) DSNFor(user, db string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", user, p.Host, p.Port, db)
}

// StartPostgres runs initdb and starts a server; it is stopped at cleanup.
// As root, the server runs as the "postgres" user (initdb refuses root).
func StartPostgres(t testing.TB, opts PGOptions) *Postgres {
	t.Helper()
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = postgresBinDir(); err != nil {
			Missing(t, "PostgreSQL (initdb, pg_ctl; or set SLOTWATCH_TEST_PGBIN)", "postgresql")
		}
	}
	dir := serverDir(t, "slotwatch-pg-")
	data := filepath.Join(dir, "data")
	runAs := postgresRunner(t, dir)
	if opts.Template != "" {
		if out, err := runAs("cp", "-a", opts.Template, data).CombinedOutput(); err != nil {
			t.Fatalf("copy the template data directory: %v\n%s", err, out)
		}
	} else if out, err := runAs(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		t.Fatalf("initdb failed: %v\n%s", err, out)
	}
	if opts.PasswordRole != "" {
		if err := prependHBA(filepath.Join(data, "pg_hba.conf"), []string{"host all " + opts.PasswordRole + " 127.0.0.1/32 scram-sha-256"}); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	conf := map[string]string{
		"listen_addresses":               "'127.0.0.1'",
		"port":                           strconv.Itoa(port),
		"unix_socket_directories":        "'" + dir + "'",
		"max_connections":                strconv.Itoa(orDefault(opts.MaxConnections, 100)),
		"superuser_reserved_connections": strconv.Itoa(orDefault(opts.SuperuserReservedConns, 3)),
		"fsync":                          "off",
		"shared_buffers":                 "16MB",
		"logging_collector":              "off",
	}
	if opts.StructuredLog {
		conf["logging_collector"] = "on"
		conf["log_destination"] = "'" + structuredLogDestination(t, bin) + "'"
	}
	for k, v := range opts.Settings {
		conf[k] = v
	}
	if err := appendConf(filepath.Join(data, "postgresql.conf"), conf); err != nil {
		t.Fatal(err)
	}
	if err := prependHBA(filepath.Join(data, "pg_hba.conf"), opts.HBA); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "server.log")
	// The port was free when freePort asked; a parallel test's server may
	// bind it first, so a failed start tries another port (a later line of
	// postgresql.conf wins).
	for attempt := 1; ; attempt++ {
		out, err := runAs(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 3 {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("pg_ctl start failed three times on three ports: %v\n%s\n%s", err, out, log)
		}
		port = freePort(t)
		if err := appendConf(filepath.Join(data, "postgresql.conf"), map[string]string{"port": strconv.Itoa(port)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = runAs(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
	})
	p := &Postgres{Host: "127.0.0.1", Port: port, Dir: dir, Bin: bin}
	p.DSN = p.DSNFor("postgres", "postgres")
	return p
}

// Psql runs SQL through the server's psql as the superuser and fails the test
// on error; it is for setup, not for the code under test.
func (p *Postgres) Psql(t testing.TB, db, sql string) string {
	t.Helper()
	cmd := exec.Command(p.psqlPath(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", db, "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// psqlPath is the first psql of the server's own directory,
// SLOTWATCH_TEST_PGBIN and the installed servers: packages that ship only the
// server (the version matrix's) have none, and psql talks to every server
// version it is tested with.
func (p *Postgres) psqlPath() string {
	for _, dir := range []string{p.Bin, os.Getenv("SLOTWATCH_TEST_PGBIN")} {
		if path := filepath.Join(dir, "psql"); dir != "" && fileExists(path) {
			return path
		}
	}
	if installed := installedBinDirs("psql"); len(installed) > 0 {
		return filepath.Join(installed[0], "psql")
	}
	return "psql" // from PATH
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// installedBinDirs are the Debian packages' bin directories that hold
// program, newest version first.
func installedBinDirs(program string) []string {
	paths, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql/*/bin", program))
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	dirs := make([]string, len(paths))
	for i, path := range paths {
		dirs[i] = filepath.Dir(path)
	}
	return dirs
}

// MatrixBins returns the server binary directories of the version matrix by
// major version, from SLOTWATCH_PG_MATRIX ("12=/dir/bin,14=/dir/bin", as
// scripts/test sets it from scripts/pg-versions). Empty when unset.
func MatrixBins() (map[int]string, error) {
	raw := strings.TrimSpace(os.Getenv("SLOTWATCH_PG_MATRIX"))
	bins := map[int]string{}
	if raw == "" {
		return bins, nil
	}
	for _, item := range strings.Split(raw, ",") {
		major, dir, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(major)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("SLOTWATCH_PG_MATRIX item %q is not MAJOR=DIR", item)
		}
		if !fileExists(filepath.Join(dir, "initdb")) {
			return nil, fmt.Errorf("SLOTWATCH_PG_MATRIX: no initdb in %s for PostgreSQL %d: run scripts/pg-versions", dir, n)
		}
		bins[n] = dir
	}
	return bins, nil
}

// Redis is a running throwaway redis-server.
type Redis struct {
	Addr string
	URL  string
	cmd  *exec.Cmd
	// exited is closed once the process has exited and been reaped.
	exited <-chan struct{}
}

// RedisOptions are server settings for a throwaway Redis.
type RedisOptions struct {
	MaxClients int // default 10000
	Args       []string
}

// StartRedis starts redis-server on a free port; it is stopped at cleanup.
// A free port is only free when it was asked for: another test's server can
// take it before redis-server binds it, so a server that exits before it
// listens is started again on another port.
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server", "redis-server")
	}
	dir := t.TempDir()
	var lastLog string
	for range 5 {
		pickPort := freePort
		if clusterEnabled(opts.Args) {
			pickPort = freeClusterPort
		}
		r, log, ok := startRedisOnce(t, bin, dir, pickPort(t), opts)
		if ok {
			return r
		}
		lastLog = log
	}
	t.Fatalf("redis-server exited before it listened, five times on five ports; its last log:\n%s", lastLog)
	return nil
}

// startRedisOnce starts redis-server on port and waits until it listens
// (ok) or exits (its log is returned, so the caller can try again).
func startRedisOnce(t testing.TB, bin, dir string, port int, opts RedisOptions) (*Redis, string, bool) {
	t.Helper()
	logFile := filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--maxclients", strconv.Itoa(orDefault(opts.MaxClients, 10000)), "--daemonize", "no",
		"--logfile", logFile}
	args = append(args, opts.Args...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if !listensBeforeExit(addr, exited) {
		_ = cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(logFile)
		return nil, string(log), false
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return &Redis{Addr: addr, URL: "redis://" + addr + "/0", cmd: cmd, exited: exited}, "", true
}

// listensBeforeExit polls addr until a Redis there answers (true),
// the process exits, or 15 s pass (false). It asks for a reply rather than
// only connecting, as the port may be held by whoever took it first.
func listensBeforeExit(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if answersRedis(addr) {
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// answersRedis asks with QUIT rather than PING: the server closes the
// connection after its reply, so once the read sees the end, the probe is
// gone from CLIENT LIST, which tests count.
func answersRedis(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		return false
	}
	// +OK, or an error from a server with a password: either way a Redis.
	reply, _ := io.ReadAll(c)
	return len(reply) > 0 && (reply[0] == '+' || reply[0] == '-')
}

func clusterEnabled(args []string) bool {
	for i, a := range args {
		if a == "--cluster-enabled" && i+1 < len(args) && args[i+1] == "yes" {
			return true
		}
	}
	return false
}

// freeClusterPort is a free port whose cluster bus port (port+10000, fixed
// by Redis) is free and below 65536 too; the kernel's ephemeral range
// reaches above 55535, where a cluster node cannot start.
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := freePort(t)
		if port+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("found no free port whose cluster bus port (port+10000) is free too in 200 tries")
	return 0
}

// SharedPostgresDSN is the machine's PostgreSQL service (SLOTWATCH_TEST_PG
// overrides it), for tests that need no special settings.
func SharedPostgresDSN() string {
	if v := os.Getenv("SLOTWATCH_TEST_PG"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// SharedRedisURL is the machine's Redis service (SLOTWATCH_TEST_REDIS
// overrides it).
func SharedRedisURL() string {
	if v := os.Getenv("SLOTWATCH_TEST_REDIS"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

func postgresBinDir() (string, error) {
	if v := os.Getenv("SLOTWATCH_TEST_PGBIN"); v != "" {
		return v, nil
	}
	if installed := installedBinDirs("initdb"); len(installed) > 0 {
		return installed[0], nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, pg_ctl) are not installed: run `apt-get install postgresql` (or scripts/test, which installs them), or set SLOTWATCH_TEST_PGBIN")
}

// serverDir makes a directory the server's user can use and removes it at
// cleanup (t.TempDir is private to root).
func serverDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// postgresRunner returns a command factory that runs as the postgres user
// when the test runs as root, and hands dir to that user.
func postgresRunner(t testing.TB, dir string) func(name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return exec.Command
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal("running as root needs a 'postgres' user for initdb: install the postgresql package")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return func(name string, args ...string) *exec.Cmd {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
}

func appendConf(path string, conf map[string]string) error {
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("\n# slotwatch test settings\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, conf[k])
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitForPort(t testing.TB, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var d net.Dialer
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server at %s did not start listening within 15s", addr)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Restart restarts the server with pg_ctl (fast shutdown: every session is
// disconnected), keeping its port and data; it waits until it accepts
// connections again.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	data := filepath.Join(p.Dir, "data")
	runAs := postgresRunner(t, p.Dir)
	logFile := filepath.Join(p.Dir, "server.log")
	if out, err := runAs(filepath.Join(p.Bin, "pg_ctl"), "-D", data, "-l", logFile, "-m", "fast", "-w", "-t", "60", "restart").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("pg_ctl restart failed: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server at once (pg_ctl immediate), leaving its port
// unreachable; Restart or the cleanup may follow.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	runAs := postgresRunner(t, p.Dir)
	if out, err := runAs(filepath.Join(p.Bin, "pg_ctl"), "-D", filepath.Join(p.Dir, "data"), "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop failed: %v\n%s", err, out)
	}
}

// Stop kills redis-server, leaving its port unreachable.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if r.cmd == nil || r.cmd.Process == nil {
		t.Fatal("this Redis was not started by StartRedis")
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
}

// prependHBA puts lines first in pg_hba.conf: the first matching line
// decides.
func prependHBA(path string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	text := strings.Join(lines, "\n") + "\n" + string(old)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// structuredLogDestination is csvlog, and jsonlog too from PostgreSQL 15
// (the major version from `postgres --version`).
func structuredLogDestination(t testing.TB, bin string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		t.Fatalf("postgres --version: %v", err)
	}
	// "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
	fields := strings.Fields(string(out))
	major := 0
	if len(fields) > 2 {
		major, _ = strconv.Atoi(strings.SplitN(fields[2], ".", 2)[0])
	}
	if major >= 15 {
		return "csvlog,jsonlog"
	}
	return "csvlog"
}
