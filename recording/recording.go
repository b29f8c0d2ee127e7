// Package recording writes and reads slotwatch recordings: one snapshot per
// line, as the compact JSON of the snapshot contract (collectors.Snapshot).
// A path ending in ".gz" is gzip-compressed, flushed after every snapshot so
// that a recording cut short by a crash stays readable up to its last line.
// Readers detect compression from the content, not the name.
package recording

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/slotwatch/slotwatch/collectors"
)

// Writer appends snapshots to a recording file. It is safe for concurrent
// use: the dashboard's snapshot hook and a shutdown path may both touch it.
type Writer struct {
	mu   sync.Mutex
	path string
	file *os.File
	gz   *gzip.Writer
	buf  *bufio.Writer
	n    int
	err  error
}

// Create starts a new recording at path. It never overwrites an existing
// file: a recording is evidence, and losing one by re-running a command with
// the same name is worse than asking for a new name. The file is readable
// by its owner only (0600, as the audit log): it holds query text, which
// can carry personal data and literals.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("the recording %s already exists; choose another file name or remove it first", path)
		}
		return nil, fmt.Errorf("cannot create the recording %s: %w", path, err)
	}
	w := &Writer{path: path, file: f}
	var sink io.Writer = f
	if strings.HasSuffix(path, ".gz") {
		w.gz = gzip.NewWriter(f)
		sink = w.gz
	}
	w.buf = bufio.NewWriterSize(sink, 64<<10)
	return w, nil
}

// Write appends one snapshot as one line and flushes it to the file, so a
// reader (or a crash) sees whole lines only.
func (w *Writer) Write(s collectors.Snapshot) error {
	line, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode snapshot taken at %s: %w", s.TakenAt.Format("15:04:05"), err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.file == nil {
		return fmt.Errorf("the recording %s is already closed", w.path)
	}
	line = append(line, '\n')
	if _, err := w.buf.Write(line); err != nil {
		return w.fail(err)
	}
	if err := w.flush(); err != nil {
		return w.fail(err)
	}
	w.n++
	return nil
}

// Count is the number of snapshots written so far.
func (w *Writer) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Path is the file being written.
func (w *Writer) Path() string { return w.path }

func (w *Writer) flush() error {
	if err := w.buf.Flush(); err != nil {
		return err
	}
	if w.gz != nil {
		return w.gz.Flush()
	}
	return nil
}

// fail remembers the first write error: after a full disk every later write
// would fail the same way, and the caller should hear it once, clearly.
func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("cannot write to the recording %s: %w; free disk space or record to another file", w.path, err)
	return w.err
}

// Close flushes and closes the file. Closing twice is harmless.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	err := w.flush()
	if w.gz != nil {
		err = errors.Join(err, w.gz.Close())
	}
	err = errors.Join(err, w.file.Close())
	w.file = nil
	if err != nil {
		return fmt.Errorf("close the recording %s: %w", w.path, err)
	}
	return nil
}
