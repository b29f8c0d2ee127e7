package tui

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/charmbracelet/x/cellbuf"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
)

// lockedBuffer keeps everything a program wrote to its terminal.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// terminalAfter runs the dashboard through bubbletea's renderer, with or
// without the cell writer, over frames and keys, and returns what it
// wrote to its terminal.
func terminalAfter(t *testing.T, cells bool, w, h int, frames []analysis.Frame, keys map[int]string) []byte {
	out := &lockedBuffer{}
	counter := &countingWriter{to: out}
	var sc *screen
	if cells {
		sc = newScreenOn(t, w, h, frames[0], Options{}, counter)
	} else {
		sc = newPlainScreen(t, w, h, frames[0], counter)
	}
	for i, f := range frames[1:] {
		sc.refresh(f)
		if k, ok := keys[i]; ok {
			sc.p.Send(keyMsg(k))
			time.Sleep(flush)
		}
	}
	shown := out.bytes() // before the program leaves the alternate screen
	sc.stop()
	return shown
}

// shownByTmux is the screen a real terminal emulator (tmux) shows after
// reading raw, with colours and attributes as tmux reports them.
func shownByTmux(t *testing.T, raw []byte, w, h int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "terminal.out")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("slotwatch-cells-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })
	if out, err := exec.Command("tmux", "-L", socket, "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h),
		"cat "+file+"; tmux -L "+socket+" wait-for -S shown; sleep 600").CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	if out, err := exec.Command("timeout", "20", "tmux", "-L", socket, "wait-for", "shown").CombinedOutput(); err != nil {
		t.Fatalf("tmux did not read the output: %v\n%s", err, out)
	}
	out, err := exec.Command("tmux", "-L", socket, "capture-pane", "-p", "-e", "-t", "0").Output()
	if err != nil {
		t.Fatalf("tmux capture-pane: %v", err)
	}
	// The capture says the same cells in different sequences (a space
	// written in the default style and a cleared cell, a style reset at the
	// end of one line or the start of the next): compare cells.
	cells := cellbuf.NewBuffer(w, h)
	cellbuf.SetContent(cells, strings.TrimSuffix(string(out), "\n"))
	return cellbuf.Render(cells)
}

// TestCellWriterShowsWhatTheRendererShows feeds the same refreshes and
// keys (sort, filters, help, back) to the dashboard with bubbletea's own
// line renderer and with the cell writer, and asks a real terminal
// emulator what each left on screen: the same cells, colours and
// attributes, for far fewer bytes.
func TestCellWriterShowsWhatTheRendererShows(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	frames := loadFrames(t, 300, 14)
	keys := map[int]string{2: "s", 4: "i", 6: "a", 7: "?", 8: "esc", 10: "tab"}
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			lines := terminalAfter(t, false, w, h, frames, keys)
			cells := terminalAfter(t, true, w, h, frames, keys)
			want, got := shownByTmux(t, lines, w, h), shownByTmux(t, cells, w, h)
			if got != want {
				t.Errorf("the cell writer left a different screen:\n--- line renderer\n%s\n--- cell writer\n%s", want, got)
			}
			if !strings.Contains(got, "Sessions") {
				t.Errorf("the screen shows no sessions table:\n%s", got)
			}
			if len(cells) >= len(lines) {
				t.Errorf("the cell writer wrote %d bytes, the line renderer %d", len(cells), len(lines))
			}
		})
	}
}

// FuzzCellWriter: whatever the renderer (or server text inside a frame)
// sends, the writer does not panic, and output that is not a frame
// passes through whole.
func FuzzCellWriter(f *testing.F) {
	f.Add([]byte("\x1b[H\x1b[1mtitle\x1b[0m\x1b[K\r\n\nlast\x1b[3;H"), []byte("\x1b[Hnew\x1b[K\r\n\n\x1b[J\x1b[3;H"))
	f.Add([]byte("\x1b[?1049h"), []byte("\x1b[H报表\x1b[K\x1b[H"))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var out bytes.Buffer
		c := newCellWriter(&out)
		c.resize(20, 5)
		for _, p := range [][]byte{first, second} {
			out.Reset()
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
			if _, frame := c.parseFrameCopy(p); !frame && !bytes.Equal(out.Bytes(), p) {
				t.Fatalf("non-frame %q came out as %q", p, out.Bytes())
			}
		}
	})
}

// parseFrameCopy tells whether p is a frame without changing c.
func (c *cellWriter) parseFrameCopy(p []byte) ([]string, bool) {
	probe := &cellWriter{lines: c.lines}
	return probe.parseFrame(p)
}
