package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/internal/testserver"
	"github.com/slotwatch/slotwatch/recording"
)

// tmuxSession drives the real binary in a detached tmux session on a private
// server socket, so the test never touches the user's tmux.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v: %s", keys, err, out)
	}
}

func (s *tmuxSession) capture() string {
	out, _ := s.tmux("capture-pane", "-p", "-t", s.name)
	return out
}

// waitFor polls the pane until every text shows, failing after 15 s with
// the last screen.
func (s *tmuxSession) waitFor(texts ...string) string {
	s.t.Helper()
	var screen string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		screen = s.capture()
		missing := false
		for _, text := range texts {
			if !strings.Contains(screen, text) {
				missing = true
				break
			}
		}
		if !missing {
			return screen
		}
	}
	s.t.Fatalf("the screen never showed %q; last screen:\n%s", texts, screen)
	return ""
}

// buildSlotwatch compiles the binary under test once per test.
func buildSlotwatch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "slotwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build slotwatch: %v\n%s", err, out)
	}
	return bin
}

func startTmux(t *testing.T, name, command string) *tmuxSession {
	t.Helper()
	return startTmuxSized(t, name, command, 120, 40)
}

func startTmuxSized(t *testing.T, name, command string, w, h int) *tmuxSession {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (scripts/test installs it)")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("slotwatch-e2e-%d-%s", os.Getpid(), name), name: name}
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	return s
}

// waitExit waits for the program to end, which closes its tmux session.
func (s *tmuxSession) waitExit() {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := s.tmux("has-session", "-t", s.name); err != nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the program did not exit; screen:\n%s", s.capture())
		}
	}
}

// TestDemoInTmux builds slotwatch, runs `slotwatch demo` in a 120x40 tmux
// pane, checks the incident is on screen, terminates a group of idle
// sessions through the confirmation dialog and quits with q.
func TestDemoInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildSlotwatch(t)
	s := startTmux(t, "demo", fmt.Sprintf("env NO_COLOR=1 HOME=%s %s demo --seed 3", t.TempDir(), bin))

	screen := s.waitFor("slotwatch DEMO", "FIRING", "PostgresConnectionLimitReached", "probe FAIL 53300",
		"jobs over capacity 1: 12345 58/50 +8", "/97 used")
	if !strings.Contains(screen, "77") {
		t.Fatalf("the 77 idle sessions should be on screen:\n%s", screen)
	}
	before := usedSlots(t, screen)

	s.keys("i") // only idle sessions
	s.waitFor("state=idle")
	s.keys("G") // terminate the group's sessions idle over 10m
	s.waitFor("CONFIRM TERMINATE", "excluded by the safety policy", "Press y")
	s.keys("y")
	s.waitFor("terminate: ", " done", "terminate result")
	// The next simulated sample no longer has the terminated sessions.
	for deadline := time.Now().Add(15 * time.Second); usedSlots(t, s.capture()) >= before; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("used slots never dropped below %d after the terminate:\n%s", before, s.capture())
		}
	}

	s.keys("q")
	s.waitExit()
}

// TestDemoAt80x24InTmux: on the smallest supported terminal the job over
// capacity, the last action and the probe's whole refusal reason are on
// the real binary's screen.
func TestDemoAt80x24InTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildSlotwatch(t)
	s := startTmuxSized(t, "demo80", fmt.Sprintf("env NO_COLOR=1 HOME=%s %s demo --seed 3", t.TempDir(), bin), 80, 24)
	screen := s.waitFor("slotwatch DEMO", "12345 58/50 +8", "REFUSED  probe 53300:", "no action yet")
	flat := strings.ReplaceAll(strings.Join(strings.Fields(screen), " "), "- ", "-")
	if !strings.Contains(flat, "remaining connection slots are reserved") {
		t.Fatalf("the probe's reason is not whole at 80x24:\n%s", screen)
	}
	s.keys("i")
	s.waitFor("state=idle")
	s.keys("G")
	s.waitFor("CONFIRM TERMINATE", "Press y")
	s.keys("y")
	s.waitFor("last action", "terminate result")
	s.keys("q")
	s.waitExit()
}

// TestReplayInTmux records ten minutes of the demo simulation with the
// recording package, plays it with `slotwatch replay`, seeks to the end and
// quits.
func TestReplayInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	path := filepath.Join(t.TempDir(), "incident.jsonl")
	w, err := recording.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sim := demo.New(demo.Options{Seed: 5})
	for i := 0; i < 120; i++ {
		if err := w.Write(sim.Snapshot()); err != nil {
			t.Fatal(err)
		}
		sim.Advance(5 * time.Second)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	bin := buildSlotwatch(t)
	s := startTmux(t, "replay", fmt.Sprintf("env NO_COLOR=1 HOME=%s %s replay %s", t.TempDir(), bin, path))
	s.waitFor("slotwatch REPLAY", "frame 1/120", "Replaying 120 snapshots", "2024-01-21 15:00:00Z")
	s.keys(" ") // pause
	s.waitFor("STOPPED")
	s.keys("Right", "Right") // two minutes on
	s.waitFor("frame 25/120", "2024-01-21 15:02:00Z")
	s.keys("End")
	s.waitFor("END", "frame 120/120", "2024-01-21 15:09:55Z", "FIRING")
	s.keys("K")
	s.waitFor("disabled while replaying")
	s.keys("q")
	s.waitExit()
}

// TestWatchInTmux runs `slotwatch watch --record` against throwaway
// PostgreSQL and Redis servers: the header shows both targets with the
// sessions the test holds, q quits, and the recording holds the snapshots.
func TestWatchInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 20})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 64})
	for i := 0; i < 3; i++ {
		conn, err := pgx.Connect(context.Background(), pg.DSN+"&application_name=held-by-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "watch.jsonl")
	config := filepath.Join(dir, "config.yaml") // the test database has no jobs table
	if err := os.WriteFile(config, []byte("jobs:\n  disabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildSlotwatch(t)
	s := startTmux(t, "watch", fmt.Sprintf("env NO_COLOR=1 HOME=%s %s watch --config %s --pg '%s' --redis '%s' --audit-log %s --record %s",
		dir, bin, config, pg.DSN, rds.URL, filepath.Join(dir, "audit.jsonl"), rec))
	screen := s.waitFor("slotwatch LIVE", "/17 used", "/64 clients", "held-by-test", "PID APPLICATION")
	// The three held sessions, plus slotwatch's other connections (actions,
	// jobs): each collector leaves out only its own backend.
	if used := usedSlots(t, screen); used < 3 {
		t.Fatalf("%d used slots, want at least the 3 held sessions:\n%s", used, screen)
	}
	if strings.Contains(screen, "STALE") {
		t.Fatalf("fresh sources must not be STALE:\n%s", screen)
	}
	time.Sleep(2500 * time.Millisecond) // a few more samples for the recording
	s.keys("q")
	s.waitExit()
	snaps, bad, err := recording.ReadFile(rec)
	if err != nil || len(bad) > 0 || len(snaps) < 2 {
		t.Fatalf("recording: %d snapshots, %d bad lines, err %v", len(snaps), len(bad), err)
	}
	last := snaps[len(snaps)-1]
	if last.Postgres == nil || last.Redis == nil || last.Jobs != nil {
		t.Fatalf("recorded snapshot should have PostgreSQL and Redis and no jobs: %+v", last)
	}
	held := 0
	for _, sess := range last.Postgres.Sessions {
		if sess.ApplicationName == "held-by-test" {
			held++
		}
	}
	if held != 3 {
		t.Fatalf("recorded %d held sessions, want 3", held)
	}
	if len(snaps) > 8 {
		t.Fatalf("%d snapshots for about 3 s at the 1 s interval: the recording is not throttled", len(snaps))
	}
}

// TestCommandErrors checks the dashboard commands' refusals in process:
// one clear sentence and the right exit status, no terminal taken over.
func TestCommandErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"watch"}, exitUsage, "slotwatch demo"},
		{[]string{"watch", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"demo", "--speed", "0"}, exitUsage, "--speed 0 is out of range"},
		{[]string{"replay"}, exitUsage, "exactly one recording FILE"},
		{[]string{"replay", "/nonexistent/rec.jsonl"}, exitError, "rec.jsonl"},
	}
	for _, c := range cases {
		var stdout, stderr strings.Builder
		env := &environment{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
			if k == "HOME" {
				return t.TempDir()
			}
			return ""
		}}
		if code := run(context.Background(), env, c.args); code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("slotwatch %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}

// usedSlots reads N from the "PG N/M used" header.
func usedSlots(t *testing.T, screen string) int {
	t.Helper()
	for _, line := range strings.Split(screen, "\n") {
		var used, usable int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "PG %d/%d used", &used, &usable); err == nil {
			return used
		}
	}
	t.Fatalf("no PG usage line on screen:\n%s", screen)
	return 0
}
