package serve

import (
	"context"
	"fmt"
	"io"
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
	"github.com/slotwatch/slotwatch/tui"
)

// BenchmarkSSHBytesPerViewer is what each viewer's SSH link carries per
// second from the real server: the demo incident simulated at real speed
// with a one-second refresh, ten viewers with a pseudo-terminal each, the
// bytes every session's channel delivers counted on the client side.
// Each iteration is one second; run with -benchtime=20x.
func BenchmarkSSHBytesPerViewer(b *testing.B) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		b.Run(fmt.Sprintf("viewers=10/%dx%d", size[0], size[1]), func(b *testing.B) { benchSSHBytes(b, 10, size[0], size[1]) })
	}
}

func benchSSHBytes(b *testing.B, viewers, w, h int) {
	addr, keys := serveDemo(b, viewers)
	counters := make([]*byteCounter, viewers)
	for i := range counters {
		counters[i] = &byteCounter{}
		watch(b, addr, fmt.Sprintf("viewer%d", i), keys[i], w, h, counters[i])
	}
	time.Sleep(3 * time.Second) // connected, first full paint
	total := func() (n int64) {
		for _, c := range counters {
			n += c.bytes()
		}
		return n
	}
	start, began := total(), time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	secs := time.Since(began).Seconds()
	b.ReportMetric(float64(total()-start)/float64(viewers)/secs, "bytes/viewer/s")
}

// serveDemo serves the demo incident, simulated at real speed from twelve
// minutes in, to n named keys; it returns the address and the keys.
func serveDemo(b *testing.B, n int) (string, []gossh.Signer) {
	dir := b.TempDir()
	var file strings.Builder
	keys := make([]gossh.Signer, n)
	for i := range keys {
		keys[i] = newKey(b)
		file.WriteString(authorizedLine(fmt.Sprintf("viewer%d", i), keys[i]))
	}
	akeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(akeys, []byte(file.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sim := demo.New(demo.Options{Seed: 1, Speed: 1, Interval: time.Second})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	for range 144 {
		pipe.Step(sim.Snapshot())
		sim.Advance(5 * time.Second)
	}
	frames := analysis.NewFrameHub()
	var wg sync.WaitGroup
	wg.Go(func() {
		hub := collectors.NewHub()
		go analysis.Stream(ctx, pipe, hub.Subscribe("analysis"), frames)
		sim.Run(ctx, hub)
	})
	audit, err := actions.OpenAuditLog(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	svc := actions.NewService(sim.PGDriver(), sim.RedisDriver(), actions.DefaultPolicy(), audit, actions.Operator{})
	srv, err := Listen(Config{Listen: "127.0.0.1:0", HostKey: filepath.Join(dir, "host_key"), AuthorizedKeys: akeys,
		Frames: frames, Actions: actions.SingleFleet(svc), Dashboard: tui.Options{Mode: tui.ModeDemo, Title: "TalentFlow incident (simulated)"}})
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() { _ = srv.Serve(ctx) })
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		audit.Close()
	})
	return srv.Addr().String(), keys
}

// watch opens one viewer's session with a w×h pseudo-terminal whose
// output goes to out.
func watch(b *testing.B, addr, name string, key gossh.Signer, w, h int, out *byteCounter) {
	watchTo(b, addr, name, key, w, h, out)
}

func watchTo(b *testing.B, addr, name string, key gossh.Signer, w, h int, out io.Writer) {
	conn, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: name, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		b.Fatalf("%s could not connect: %v", name, err)
	}
	sess, err := conn.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	sess.Stdout = out
	if _, err := sess.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		b.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = sess.Close()
		_ = conn.Close()
	})
}

type byteCounter struct {
	mu sync.Mutex
	n  int64
}

func (c *byteCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(len(p))
	return len(p), nil
}

func (c *byteCounter) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
