package serve

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/slotwatch/slotwatch/actions"
)

func TestListenRefusesWithoutKeys(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("ssh-ed25519 not-base64 kim\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"", "needs an authorized_keys file"},
		{filepath.Join(dir, "missing"), "no such file"},
		{empty, "lists no key"},
		{bad, "line 1 is not a public key"},
	} {
		err := CheckAuthorizedKeys(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckAuthorizedKeys(%q) = %v, want an error saying %q", tc.path, err, tc.want)
		}
	}
}

func TestHostKeyCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "slotwatch", "host_key")
	first, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	again, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if gossh.FingerprintSHA256(first.PublicKey()) != gossh.FingerprintSHA256(again.PublicKey()) {
		t.Fatal("the host key changed between runs: clients' known_hosts would break")
	}
}

// TestUnknownKeyRejectedAndKeysReread: a key not in the file never gets
// in; adding it to the file lets it in at the next login, with no restart.
func TestUnknownKeyRejectedAndKeysReread(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 0, "kim")
	ts.keys["eve"] = newKey(t)
	if c, err := ts.dial("eve"); err == nil {
		c.Close()
		t.Fatal("an unknown key was let in")
	}
	if fp := gossh.FingerprintSHA256(ts.keys["eve"].PublicKey()); !ts.log.has("refused key "+fp, "from 127.0.0.1:") {
		t.Fatalf("the serve log has no line for the refused key %s and its address", fp)
	}
	_, port, err := net.SplitHostPort(ts.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ts.srv.SSHCommand(), "ssh -p "+port+" 127.0.0.1"; got != want {
		t.Fatalf("the start line says %q, want %q", got, want)
	}
	f, err := os.OpenFile(ts.akeys, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(authorizedLine("eve", ts.keys["eve"])); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c, err := ts.dial("eve")
	if err != nil {
		t.Fatalf("a key added to the file was refused: %v", err)
	}
	c.Close()
}

// TestSSHCommandIsTheRealOne: the start line names the listening port,
// and this machine's name instead of an unspecified address.
func TestSSHCommandIsTheRealOne(t *testing.T) {
	host, _ := os.Hostname()
	for addr, want := range map[string]string{"0.0.0.0:2222": "ssh -p 2222 " + host, "[::]:2222": "ssh -p 2222 " + host,
		"[::1]:2222": "ssh -p 2222 [::1]", "10.1.2.3:22": "ssh 10.1.2.3"} {
		if got := sshCommand(addr); got != want {
			t.Errorf("listening on %s the start line says %q, want %q", addr, got, want)
		}
	}
}

// TestWarRoom: an operator and a viewer see the same incident and each
// other; the viewer's K is refused and audited under its key; the
// operator's G terminates, is audited under its fingerprint and announced
// to the viewer, whose audit pane follows the shared log.
func TestWarRoom(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 0, "kim", "marcus")
	kim := ts.connect("kim", 140, 45, true)
	marcus := ts.connect("marcus", 180, 40, true)
	for _, c := range []*client{kim, marcus} {
		c.waitFor("talentflow-web", "PG ")
	}
	waitPresence(t, ts.srv, []string{"kim (operator)", "marcus"})
	marcus.waitFor("2 watching: kim (operator), marcus", "VIEWER")

	marcus.keys("K")
	marcus.waitFor("Read-only viewer")
	refused := waitAudit(t, ts.audit, func(e actions.AuditEntry) bool { return e.Phase == actions.PhaseRefused })
	if refused.Operator.Fingerprint != gossh.FingerprintSHA256(ts.keys["marcus"].PublicKey()) || refused.Operator.User != "marcus" {
		t.Fatalf("the refusal is audited as %+v, want marcus and his key's fingerprint", refused.Operator)
	}

	kim.keys("i") // only idle sessions
	kim.waitFor("state=idle")
	kim.keys("G") // terminate the group's sessions idle over 10m
	kim.waitFor("CONFIRM TERMINATE", "Press y")
	kim.keys("y")
	result := waitAudit(t, ts.audit, func(e actions.AuditEntry) bool { return e.Phase == actions.PhaseResult })
	if result.Operator.Fingerprint != gossh.FingerprintSHA256(ts.keys["kim"].PublicKey()) || len(result.Done) == 0 {
		t.Fatalf("the terminate is audited as %+v with %d done, want kim's fingerprint and sessions done", result.Operator, len(result.Done))
	}
	marcus.waitFor("kim terminated")
	marcus.waitFor("terminate result") // the viewer's audit pane follows the shared log
}

// TestStalledClientIsDroppedWithoutDelayingOthers: a client that stops
// reading blocks the server's writes to it; while they are blocked the
// other session keeps receiving frames, and the stalled one is dropped.
func TestStalledClientIsDroppedWithoutDelayingOthers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 2*time.Second, "kim", "sarah")
	kim := ts.connect("kim", 100, 30, true)
	kim.waitFor("talentflow-web")
	stalled := ts.connect("sarah", 400, 200, false)
	waitPresence(t, ts.srv, []string{"kim (operator)", "sarah"})
	// Full repaints fill the SSH window quickly; wait until a write to
	// sarah has been blocked for a while.
	for i := 0; ts.blocked("sarah") < 300*time.Millisecond; i++ {
		if i > 3000 {
			t.Fatal("the unread session's writes never blocked")
		}
		if ts.blocked("sarah") == 0 {
			_ = stalled.sess.WindowChange(200-i%2, 400)
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := kim.out.len()
	for kim.out.len() == before {
		if ts.blocked("sarah") == 0 {
			t.Fatal("kim received nothing while sarah's terminal was blocked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitPresence(t, ts.srv, []string{"kim (operator)"})
	grown := kim.out.len()
	for kim.out.len() == grown {
		time.Sleep(20 * time.Millisecond)
	}
}

// blocked is how long the named session's pending write has been blocked.
func (ts *testServer) blocked(name string) time.Duration {
	var d time.Duration
	ts.srv.roster.each(func(ss *sshSession) {
		if ss.id.Name == name {
			d = ss.out.blockedFor()
		}
	})
	return d
}

// TestConnectDisconnectLeaksNothing: 100 sessions in a row leave no
// goroutine and no file descriptor behind.
func TestConnectDisconnectLeaksNothing(t *testing.T) {
	ts := startServer(t, 0, "kim")
	once := func() {
		c := ts.connect("kim", 80, 24, true)
		c.waitFor("talentflow-web")
		c.close()
	}
	once()
	waitPresence(t, ts.srv, nil)
	settle()
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for range 100 {
		once()
	}
	waitPresence(t, ts.srv, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		settle()
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines+2 && f <= fds+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("after 100 sessions: %d goroutines (was %d), %d fds (was %d)\n%s", g, goroutines, f, fds, buf[:n])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func settle() {
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}

func waitPresence(t *testing.T, srv *Server, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(srv.Presence(), want) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			os.WriteFile("/tmp/serve-stacks.txt", buf[:n], 0o644)
			t.Fatalf("presence %q, want %q", srv.Presence(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitAudit(t *testing.T, path string, match func(actions.AuditEntry) bool) actions.AuditEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := actions.ReadAuditLog(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such audit entry in %d entries", len(entries))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStopEndsEverySessionWithALastMessage: stopping the server (SIGTERM
// or SIGHUP in the command) quits every dashboard and tells each engineer
// why before the connection closes.
func TestStopEndsEverySessionWithALastMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 0, "kim", "marcus")
	kim, marcus := ts.connect("kim", 100, 30, true), ts.connect("marcus", 100, 30, true)
	kim.waitFor("talentflow-web")
	marcus.waitFor("talentflow-web")
	ts.stop(errors.New("SIGTERM received"))
	<-ts.done
	for _, c := range []*client{kim, marcus} {
		c.waitFor("slotwatch serve is stopping (SIGTERM received): this session has ended.")
		if err := c.sess.Wait(); err != nil {
			t.Fatalf("the session did not end cleanly: %v", err)
		}
	}
}
