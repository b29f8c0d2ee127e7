package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/internal/termscreen"
	"github.com/slotwatch/slotwatch/tui"
)

// testServer is a served demo incident on a free loopback port with an
// authorized_keys file of named keys; kim's key is an operator's.
type testServer struct {
	t     *testing.T
	srv   *Server
	keys  map[string]gossh.Signer
	akeys string
	audit string
	stop  context.CancelCauseFunc
	done  chan struct{}
	log   *logWriter
}

func newKey(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorizedLine(name string, k gossh.Signer) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k.PublicKey()))) + " " + name + "\n"
}

func startServer(t *testing.T, stall time.Duration, names ...string) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{t: t, log: testLog(t), keys: map[string]gossh.Signer{}, akeys: filepath.Join(dir, "authorized_keys"),
		audit: filepath.Join(dir, "audit.jsonl"), done: make(chan struct{})}
	var file strings.Builder
	file.WriteString("# the war room\n\n")
	for _, n := range names {
		ts.keys[n] = newKey(t)
		file.WriteString(authorizedLine(n, ts.keys[n]))
	}
	if err := os.WriteFile(ts.akeys, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	ts.stop = cancel
	sim := demo.New(demo.Options{Seed: 1, Speed: 10, Interval: 100 * time.Millisecond})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for range 144 { // twelve simulated minutes, as `slotwatch demo` warms up
		pipe.Step(sim.Snapshot())
		sim.Advance(5 * time.Second)
	}
	frames := analysis.NewFrameHub()
	snaps := make(chan struct{})
	go func() {
		defer close(snaps)
		hub := collectors.NewHub()
		go analysis.Stream(ctx, pipe, hub.Subscribe("analysis"), frames)
		sim.Run(ctx, hub)
	}()
	audit, err := actions.OpenAuditLog(ts.audit)
	if err != nil {
		t.Fatal(err)
	}
	svc := actions.NewService(sim.PGDriver(), sim.RedisDriver(), actions.DefaultPolicy(), audit, actions.Operator{})
	ts.srv, err = Listen(Config{Listen: "127.0.0.1:0", HostKey: filepath.Join(dir, "state", "host_key"),
		AuthorizedKeys: ts.akeys, Operators: []string{"kim", "sam"}, Frames: frames, Actions: actions.SingleFleet(svc),
		Dashboard: tui.Options{Mode: tui.ModeDemo, Title: "TalentFlow incident (simulated)"}, StallTimeout: stall, Log: ts.log})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(ts.done)
		if err := ts.srv.Serve(ctx); err != nil {
			t.Error(err)
		}
		<-snaps
		audit.Close()
	}()
	t.Cleanup(ts.shutdown)
	return ts
}

func (ts *testServer) shutdown() {
	ts.stop(fmt.Errorf("test over"))
	<-ts.done
}

// client is one in-process SSH session with a pseudo-terminal.
type client struct {
	t     *testing.T
	conn  *gossh.Client
	sess  *gossh.Session
	stdin interface{ Write([]byte) (int, error) }
	out   *screenBuffer
}

func (ts *testServer) dial(name string) (*gossh.Client, error) {
	return gossh.Dial("tcp", ts.srv.Addr().String(), &gossh.ClientConfig{
		User: name, Auth: []gossh.AuthMethod{gossh.PublicKeys(ts.keys[name])},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
}

// connect opens a session; read false leaves its output unread (a stalled
// terminal).
func (ts *testServer) connect(name string, w, h int, read bool) *client {
	ts.t.Helper()
	conn, err := ts.dial(name)
	if err != nil {
		ts.t.Fatalf("%s could not connect: %v", name, err)
	}
	sess, err := conn.NewSession()
	if err != nil {
		ts.t.Fatal(err)
	}
	c := &client{t: ts.t, conn: conn, sess: sess, out: &screenBuffer{screen: termscreen.New(w, h)}}
	if read {
		sess.Stdout = c.out
	} else {
		// StdoutPipe that nobody reads: the SSH window fills and the
		// server's writes block, as with a frozen laptop.
		if _, err := sess.StdoutPipe(); err != nil {
			ts.t.Fatal(err)
		}
	}
	if c.stdin, err = sess.StdinPipe(); err != nil {
		ts.t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		ts.t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	_ = c.sess.Close()
	_ = c.conn.Close()
}

func (c *client) keys(s string) {
	c.t.Helper()
	if _, err := c.stdin.Write([]byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// waitFor polls the session's output until every text appears.
func (c *client) waitFor(texts ...string) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := c.out.text()
		missing := ""
		for _, text := range texts {
			if !strings.Contains(screen, text) {
				missing = text
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			tail := screen[max(0, len(screen)-3000):]
			c.t.Fatalf("the session never showed %q; its output ends:\n%s", missing, tail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenBuffer collects a session's output, and every screen it showed:
// the dashboard rewrites only the cells that change, so a word on screen
// may arrive in pieces.
type screenBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	screen *termscreen.Screen
	shown  strings.Builder // each distinct screen in turn
	last   string
}

func (b *screenBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.screen.Write(p)
	if t := b.screen.Text(); t != b.last {
		b.shown.WriteString(t)
		b.shown.WriteString("\n")
		b.last = t
	}
	return b.buf.Write(p)
}

func (b *screenBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// text is every screen the session showed, in turn.
func (b *screenBuffer) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shown.String()
}

// testLog sends the server's log lines to the test log and keeps them.
func testLog(t *testing.T) *logWriter { return &logWriter{t: t} }

type logWriter struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (w *logWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	w.t.Log(line)
	w.mu.Lock()
	w.lines = append(w.lines, line)
	w.mu.Unlock()
	return len(p), nil
}

// has reports whether some log line contains every one of parts.
func (w *logWriter) has(parts ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range w.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
