package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// sshKey is a client key made with ssh-keygen.
type sshKey struct{ path, fingerprint string }

func sshKeygen(t *testing.T, dir, name string) sshKey {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{path: path, fingerprint: strings.Fields(string(out))[1]}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// servedSession is `ssh` to the served dashboard in a tmux pane that stays
// after ssh exits, so the last message can be read.
func servedSession(t *testing.T, name string, w, h int, sshCmd string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("slotwatch-serve-%d-%s", os.Getpid(), name), name: name}
	if out, err := s.tmux("new-session", "-d", "-s", name, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h)); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	if out, err := s.tmux("set-option", "-t", name, "remain-on-exit", "on"); err != nil {
		t.Fatalf("tmux set-option: %v: %s", err, out)
	}
	if out, err := s.tmux("respawn-pane", "-k", "-t", name, sshCmd); err != nil {
		t.Fatalf("tmux respawn-pane: %v: %s", err, out)
	}
	return s
}

// TestServeOverSSH runs `slotwatch serve` on throwaway PostgreSQL and Redis
// and connects OpenSSH clients in tmux: an operator and a viewer see the
// same incident and each other; the viewer's K is refused and audited; the
// operator's terminate works under its key's fingerprint and is announced
// to the viewer; an unknown key is rejected; ten sessions still cost one
// PostgreSQL backend and one Redis client; SIGTERM ends every session with
// a last message.
func TestServeOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end SSH test skipped in -short mode")
	}
	for _, tool := range []string{"tmux", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test installs tmux and openssh-client)", tool)
		}
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg.Psql(t, "postgres", "CREATE ROLE webapp LOGIN")
	for range 4 {
		c, err := pgx.Connect(ctx, pg.DSNFor("webapp", "postgres")+"&application_name=webapp-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}

	dir := t.TempDir()
	kim, marcus, eve := sshKeygen(t, dir, "kim"), sshKeygen(t, dir, "marcus"), sshKeygen(t, dir, "eve")
	var keys bytes.Buffer
	for _, k := range []sshKey{kim, marcus} {
		pub, err := os.ReadFile(k.path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		keys.Write(pub)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	audit := filepath.Join(dir, "audit.jsonl")
	config := filepath.Join(dir, "config.yaml")
	mustWrite(t, authorized, keys.String())
	mustWrite(t, config, fmt.Sprintf("pg: %s\nredis: %s\ninterval: 250ms\naudit_log: %s\nprobe:\n  interval: 0s\njobs:\n  disabled: true\nserve:\n  operators: [kim]\n",
		pg.DSN, rds.URL, audit))

	srv, ssh, serverLog := startServe(t, dir, config, authorized)

	op := servedSession(t, "kim", 160, 45, ssh(kim))
	viewer := servedSession(t, "marcus", 160, 45, ssh(marcus))
	for _, s := range []*tmuxSession{op, viewer} {
		s.waitFor("slotwatch LIVE", "webapp-test", "2 watching: kim (operator), marcus")
	}
	viewer.waitFor("VIEWER")

	viewer.keys("K")
	viewer.waitFor("Read-only viewer")
	refused := waitAuditEntry(t, audit, func(e actions.AuditEntry) bool { return e.Phase == actions.PhaseRefused })
	if refused.Operator.Fingerprint != marcus.fingerprint {
		t.Fatalf("the viewer's refusal is audited as %+v, want fingerprint %s", refused.Operator, marcus.fingerprint)
	}

	op.keys("i") // the four idle sessions are the test's (slotwatch's own is never listed)
	op.waitFor("state=idle")
	op.keys("K")
	op.waitFor("CONFIRM TERMINATE", "Press y")
	op.keys("y")
	result := waitAuditEntry(t, audit, func(e actions.AuditEntry) bool { return e.Phase == actions.PhaseResult })
	if result.Operator.Fingerprint != kim.fingerprint || result.Operator.User != "kim" || len(result.Done) != 1 {
		t.Fatalf("the terminate is audited as %+v with %d done, want kim's fingerprint %s and one session", result.Operator, len(result.Done), kim.fingerprint)
	}
	viewer.waitFor("kim terminated 1 session")
	if left := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'webapp-test'"); left != "3" {
		t.Fatalf("%s webapp-test sessions left, want 3 after terminating one", left)
	}

	out, err := exec.Command("sh", "-c", ssh(eve)+" true").CombinedOutput()
	if code := exitCode(err); code != 255 || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("an unknown key got exit %d: %s", code, out)
	}

	for i := range 8 {
		servedSession(t, fmt.Sprintf("extra%d", i), 100, 30, ssh(marcus))
	}
	op.waitFor("10 watching")
	if n := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'slotwatch%'"); n != "1" {
		t.Fatalf("%s PostgreSQL backends from slotwatch with 10 sessions, want 1", n)
	}
	if n := redisClientsNamed(t, ctx, rds.URL, "slotwatch"); n != 1 {
		t.Fatalf("%d Redis clients from slotwatch with 10 sessions, want 1", n)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*tmuxSession{op, viewer} {
		// The last line follows the restored screen: read the history too.
		e2eWait(t, "the last message", func() bool {
			out, _ := s.tmux("capture-pane", "-p", "-S", "-", "-t", s.name)
			return strings.Contains(out, "slotwatch serve is stopping (SIGTERM received): this session has ended.")
		})
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve exited with %v after SIGTERM; log:\n%s", err, serverLog.String())
	}
}

// startServe runs the binary's `slotwatch serve` on config and a free
// loopback port, with its state under dir, and waits until it listens. It
// returns the process (killed at cleanup), the ssh command line that logs
// in with a key, and the server's stderr (read it only once srv exited).
func startServe(t *testing.T, dir, config, authorized string) (srv *exec.Cmd, ssh func(sshKey) string, serverLog *bytes.Buffer) {
	t.Helper()
	port := freeLoopbackPort(t)
	srv = exec.Command(buildSlotwatch(t), "serve", "--config", config, "--authorized-keys", authorized,
		"--listen", fmt.Sprintf("127.0.0.1:%d", port))
	srv.Env = append(os.Environ(), "HOME="+dir, "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	serverLog = &bytes.Buffer{}
	srv.Stderr = serverLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _, _ = srv.Process.Wait() })
	e2eWait(t, "serve to listen", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	ssh = func(k sshKey) string {
		return fmt.Sprintf("ssh -tt -o StrictHostKeyChecking=no -o UserKnownHostsFile=%s -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR -i %s -p %d 127.0.0.1",
			filepath.Join(dir, "known_hosts"), k.path, port)
	}
	return srv, ssh, serverLog
}

func mustWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func waitAuditEntry(t *testing.T, path string, match func(actions.AuditEntry) bool) actions.AuditEntry {
	t.Helper()
	var found actions.AuditEntry
	e2eWait(t, "the audit entry", func() bool {
		entries, _ := actions.ReadAuditLog(path)
		for _, e := range entries {
			if match(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// redisClientsNamed counts the server's clients with this name (the test's
// own client has none).
func redisClientsNamed(t *testing.T, ctx context.Context, url, name string) int {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(" "+line+" ", " name="+name+" ") {
			n++
		}
	}
	return n
}
