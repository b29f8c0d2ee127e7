package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/testserver"
	"github.com/slotwatch/slotwatch/recording"
)

// TestSignalsEndCommandsCleanly: SIGHUP (an SSH session to a bastion
// dropping) ends record and watch exactly as SIGTERM does: the recording is
// flushed, closed and summarised, the terminal restored.
func TestSignalsEndCommandsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds slotwatch and starts PostgreSQL")
	}
	bin := buildSlotwatch(t)
	pg := testserver.StartPostgres(t, testserver.PGOptions{})
	codes := map[syscall.Signal]int{}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		codes[sig] = recordUntilSignal(t, bin, pg.DSN, sig)
	}
	if codes[syscall.SIGHUP] != codes[syscall.SIGTERM] || codes[syscall.SIGHUP] != 0 {
		t.Errorf("record exit status: SIGHUP %d, SIGTERM %d; want both 0", codes[syscall.SIGHUP], codes[syscall.SIGTERM])
	}
	t.Run("watch restores the terminal on SIGHUP", func(t *testing.T) { watchUntilHangup(t, bin, pg.DSN) })
}

var wroteLine = regexp.MustCompile(`wrote (\d+) snapshots to (\S+)`)

// recordUntilSignal runs `slotwatch record` until it has written two
// snapshots, sends sig and checks the summary line and the recording.
func recordUntilSignal(t *testing.T, bin, dsn string, sig syscall.Signal) int {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run.jsonl.gz")
	cmd := exec.Command(bin, "record", "--pg", dsn, "--out", out)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "SLOTWATCH_PG=", "DATABASE_URL=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitForSnapshots(t, out, 2)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var all []string
	for l := range lines {
		all = append(all, l)
	}
	err = cmd.Wait()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(all, "\n")
	m := wroteLine.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%v: no summary line; stderr:\n%s", sig, text)
	}
	snaps, bad, err := recording.ReadFile(out)
	if err != nil || len(bad) > 0 {
		t.Fatalf("%v: recording unreadable: %v, bad lines %v", sig, err, bad)
	}
	if n, _ := strconv.Atoi(m[1]); n != len(snaps) || n < 2 {
		t.Errorf("%v: summary says %s snapshots, the file holds %d (want ≥ 2)", sig, m[1], len(snaps))
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%v: recording mode %v (%v), want 0600", sig, st.Mode().Perm(), err)
	}
	return code
}

// waitForSnapshots waits until the recording holds n readable snapshots.
func waitForSnapshots(t *testing.T, path string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if snaps, _, err := recording.ReadFile(path); err == nil && len(snaps) >= n {
			return
		}
	}
	t.Fatalf("the recording %s never held %d snapshots", path, n)
}

// watchUntilHangup runs `slotwatch watch` in a tmux pane under a shell that
// outlives it, sends SIGHUP to slotwatch alone and checks that the pane
// left the alternate screen with the cursor shown (tmux reports both while
// the shell still runs; a dead pane always reads "cursor hidden").
func watchUntilHangup(t *testing.T, bin, dsn string) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	command := fmt.Sprintf("sh -c 'echo $$ > %s; env NO_COLOR=1 HOME=%s %s watch --pg %s; echo exit status $?; sleep 600'", pidFile, t.TempDir(), bin, dsn)
	s := startTmux(t, "hangup", command)
	s.waitFor("PG ", "used")
	if state := s.paneState(); state != "1 0" {
		t.Fatalf("while watching, want alternate screen on and cursor hidden; pane state %q", state)
	}
	pid := childOf(t, readPID(t, pidFile))
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	screen := s.waitFor("exit status ")
	if !strings.Contains(screen, "exit status 0") {
		t.Errorf("watch after SIGHUP: want exit status 0 (as for SIGTERM):\n%s", screen)
	}
	if state := s.paneState(); state != "0 1" {
		t.Errorf("after SIGHUP the pane state is %q (alternate_on cursor_flag); want \"0 1\", the terminal restored", state)
	}
}

// paneState is "alternate_on cursor_flag" of the pane.
func (s *tmuxSession) paneState() string {
	out, _ := s.tmux("display-message", "-p", "-t", s.name, "#{alternate_on} #{cursor_flag}")
	return strings.TrimSpace(out)
}

// childOf is the one child process of pid (Linux /proc).
func childOf(t *testing.T, pid int) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			t.Skipf("cannot list child processes here: %v", err)
		}
		if f := strings.Fields(string(b)); len(f) == 1 {
			if c, err := strconv.Atoi(f[0]); err == nil {
				return c
			}
		}
	}
	t.Fatalf("process %d has no single child", pid)
	return 0
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return pid
		}
	}
	t.Fatalf("no pid in %s", path)
	return 0
}
