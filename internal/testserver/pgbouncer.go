package testserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// PgBouncerOptions configure a throwaway pgbouncer in front of a Postgres.
type PgBouncerOptions struct {
	PoolMode        string   // default "transaction"
	DefaultPoolSize int      // default 5
	MaxClientConn   int      // default 200
	Users           []string // allowed users besides postgres and pgbouncer
	Database        string   // the pooled database name clients use; default "talentflow"
}

// PgBouncer is a running pgbouncer. AdminDSN connects to its admin console
// (database pgbouncer) as an admin user; DSNFor connects through a pool.
type PgBouncer struct {
	Host     string
	Port     int
	Database string
	AdminDSN string
}

// DSNFor returns a DSN through the pooled database as user.
func (b *PgBouncer) DSNFor(user string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", user, b.Host, b.Port, b.Database)
}

// StartPgBouncer starts pgbouncer (the installed binary) on a free port in
// front of pg's database "postgres"; it is stopped at cleanup. As root it
// runs as the postgres user: pgbouncer refuses to run as root.
func StartPgBouncer(t testing.TB, pg *Postgres, opts PgBouncerOptions) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		Missing(t, "pgbouncer", "pgbouncer")
	}
	if opts.PoolMode == "" {
		opts.PoolMode = "transaction"
	}
	if opts.Database == "" {
		opts.Database = "talentflow"
	}
	dir := serverDir(t, "slotwatch-pgbouncer-")
	port := freePort(t)
	users := append([]string{"postgres", "pgbouncer"}, opts.Users...)
	var userlist strings.Builder
	for _, u := range users {
		fmt.Fprintf(&userlist, "%q \"\"\n", u)
	}
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%d dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = postgres, pgbouncer
pool_mode = %s
default_pool_size = %d
max_client_conn = %d
logfile = %s
pidfile = %s
`, opts.Database, pg.Host, pg.Port, port, filepath.Join(dir, "userlist.txt"), opts.PoolMode,
		orDefault(opts.DefaultPoolSize, 5), orDefault(opts.MaxClientConn, 200),
		filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	for name, body := range map[string]string{"userlist.txt": userlist.String(), "pgbouncer.ini": ini} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runAs := postgresRunner(t, dir)
	cmd := runAs(bin, filepath.Join(dir, "pgbouncer.ini"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// runuser may leave pgbouncer itself running: stop it by its pid file.
		if pid, err := os.ReadFile(filepath.Join(dir, "pgbouncer.pid")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
				if p, err := os.FindProcess(n); err == nil {
					_ = p.Kill()
				}
			}
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitForPort(t, addr)
	return &PgBouncer{Host: "127.0.0.1", Port: port, Database: opts.Database,
		AdminDSN: fmt.Sprintf("postgres://pgbouncer@127.0.0.1:%d/pgbouncer?sslmode=disable", port)}
}
