package recording

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/slotwatch/slotwatch/collectors"
)

// MaxLineBytes bounds one line: a snapshot of 10,000 Redis clients and 1,000
// sessions is a few MB, so anything this long is corruption, and reading it
// whole would only exhaust memory.
const MaxLineBytes = 64 << 20

// LineError is a line of a recording that could not be read. The reader skips
// it and keeps every other line.
type LineError struct {
	Line int   // 1-based line number
	Err  error // why it was rejected
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e LineError) Unwrap() error { return e.Err }

// Reasons a line is rejected, for errors.Is.
var (
	ErrTruncated = errors.New("the line is cut off (no end of line): the recording ended mid-write")
	ErrTooLong   = fmt.Errorf("the line is longer than %d MB, which no snapshot is", MaxLineBytes>>20)
	ErrNoTime    = errors.New("the line has no taken_at time, so it is not a snapshot")
	ErrCorruptGz = errors.New("the compressed data is corrupt here; nothing after this point can be read")
)

// ReadFile reads a whole recording. Bad lines are returned as LineErrors with
// their line numbers and the rest is kept; the error is only for a file that
// cannot be opened or read at all.
func ReadFile(path string) ([]collectors.Snapshot, []LineError, error) {
	var snaps []collectors.Snapshot
	shared := interner{}
	bad, err := ScanFile(path, func(_ int, s collectors.Snapshot) error {
		shared.snapshot(&s)
		snaps = append(snaps, s)
		return nil
	})
	return snaps, bad, err
}

// ScanFile streams a recording to fn, one snapshot at a time, so long
// recordings can be summarised without holding every snapshot in memory.
// An error from fn stops the scan and is returned.
func ScanFile(path string, fn func(line int, s collectors.Snapshot) error) ([]LineError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the recording %s: %w", path, err)
	}
	defer f.Close()
	bad, err := Scan(f, fn)
	if err != nil {
		return bad, fmt.Errorf("read the recording %s: %w", path, err)
	}
	return bad, nil
}

// Scan reads a recording from r (plain or gzip, detected from the first
// bytes) and calls fn for every good line.
func Scan(r io.Reader, fn func(line int, s collectors.Snapshot) error) ([]LineError, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	src := br
	compressed := false
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return []LineError{{Line: 1, Err: ErrCorruptGz}}, nil
		}
		defer gz.Close()
		src = bufio.NewReaderSize(gz, 64<<10)
		compressed = true
	}
	return scanLines(src, compressed, MaxLineBytes, fn)
}

func scanLines(br *bufio.Reader, compressed bool, maxLine int, fn func(int, collectors.Snapshot) error) ([]LineError, error) {
	var bad []LineError
	for n := 1; ; n++ {
		line, status, err := readLine(br, maxLine)
		if err != nil && !errors.Is(err, io.EOF) {
			if !compressed {
				return bad, err
			}
			// A gzip stream that simply stops is a recording cut short,
			// like a plain file cut mid-line; anything else is corruption.
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				return append(bad, LineError{Line: n, Err: ErrCorruptGz}), nil
			}
		}
		if lerr := handleLine(n, line, status, fn); lerr != nil {
			var le LineError
			if !errors.As(lerr, &le) {
				return bad, lerr
			}
			bad = append(bad, le)
		}
		if err != nil {
			return bad, nil
		}
	}
}

// handleLine parses one line and hands it to fn. A rejected line comes back
// as a LineError; any other error is fn's.
func handleLine(n int, line []byte, status lineStatus, fn func(int, collectors.Snapshot) error) error {
	if status == lineTooLong {
		return LineError{Line: n, Err: ErrTooLong}
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	s, err := parseLine(line)
	if err != nil {
		if status == lineCut {
			err = ErrTruncated
		}
		return LineError{Line: n, Err: err}
	}
	// A last line without its newline that still parses whole is kept: the
	// writer always ends lines, but a copied or edited file may not.
	return fn(n, s)
}

type lineStatus int

const (
	lineWhole   lineStatus = iota
	lineCut                // the input ended before a newline
	lineTooLong            // longer than the limit; consumed and dropped
)

// readLine returns the next line without its newline and the error that
// ended the input, if any (io.EOF at the end).
func readLine(br *bufio.Reader, maxLine int) ([]byte, lineStatus, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			return nil, lineTooLong, skipRest(br, err)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], lineWhole, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, lineCut, err
		}
	}
}

// skipRest consumes the rest of an overlong line.
func skipRest(br *bufio.Reader, err error) error {
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	return err
}

func parseLine(line []byte) (collectors.Snapshot, error) {
	var s collectors.Snapshot
	if err := json.Unmarshal(line, &s); err != nil {
		return s, fmt.Errorf("not a valid snapshot: %w", err)
	}
	if s.TakenAt.IsZero() {
		return s, ErrNoTime
	}
	return s, nil
}
