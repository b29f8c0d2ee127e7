package actions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Audit phases. A confirmed action writes an intent line before it touches
// the server and a result line after, so a crash mid-action still leaves the
// intent on disk.
const (
	PhaseIntent    = "intent"    // confirmed, about to execute
	PhaseResult    = "result"    // executed; per-target outcomes
	PhaseDeclined  = "declined"  // previewed in a dialog, then declined (n/Esc)
	PhasePreviewed = "previewed" // CLI preview without --yes: not an action
	PhaseRefused   = "refused"   // refused by read-only mode or the safety policy
)

// Audit actions.
const (
	ActionCancel      = "cancel"
	ActionTerminate   = "terminate"
	ActionRedisKill   = "redis-kill"
	ActionGuardSet    = "guard-set"
	ActionGuardRevert = "guard-revert"
)

// AuditTarget is a target with the reason it was excluded, skipped or failed.
type AuditTarget struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	// Node is the Redis Cluster node the client is on (ids are per node).
	Node string `json:"node,omitempty"`
}

// NodeTarget is one Redis Cluster client of an action, named by its node
// and its id there, with its outcome on the result line.
type NodeTarget struct {
	Node    string  `json:"node"`
	ID      int64   `json:"id"`
	Outcome Outcome `json:"outcome,omitempty"`
}

// AuditEntry is one JSON line of the audit log.
type AuditEntry struct {
	Time     time.Time `json:"time"`
	ActionID string    `json:"action_id"` // links the intent and result lines of one action
	Phase    string    `json:"phase"`
	Operator Operator  `json:"operator"`
	Server   string    `json:"server"` // never carries a password
	// ServerName is the configured name of the server when several are
	// configured (Fleet); empty for a single target.
	ServerName string `json:"server_name,omitempty"`
	Action     string `json:"action"`
	Predicate  string `json:"predicate,omitempty"`
	Statement  string `json:"statement,omitempty"`
	Confirmed  bool   `json:"confirmed"`

	Previewed []int64       `json:"previewed,omitempty"`
	Excluded  []AuditTarget `json:"excluded,omitempty"`
	Done      []int64       `json:"done,omitempty"`
	Gone      []int64       `json:"gone,omitempty"`
	Skipped   []AuditTarget `json:"skipped,omitempty"`
	Failed    []AuditTarget `json:"failed,omitempty"`
	// NodeTargets names each target of a Redis Cluster action by node and
	// id (the id lists above alone are ambiguous across nodes).
	NodeTargets []NodeTarget `json:"node_targets,omitempty"`

	// Guards: the setting, the role it applies to (PostgreSQL) and the value
	// before and after; nil means "not set" (the server default applies).
	Setting  string  `json:"setting,omitempty"`
	Role     string  `json:"role,omitempty"`
	Previous *string `json:"previous,omitempty"`
	New      *string `json:"new,omitempty"`
	// Outcome of a guard change (done, skipped, failed); RevertOf is the
	// action id of the guard-set a guard-revert undoes.
	Outcome  Outcome `json:"outcome,omitempty"`
	RevertOf string  `json:"revert_of,omitempty"`
	// Nodes are a Redis Cluster guard's value on each node before and
	// after; revert restores each node's own previous value.
	Nodes []GuardNode `json:"nodes,omitempty"`

	Notes []string `json:"notes,omitempty"`
	Error string   `json:"error,omitempty"`
}

// recentKept bounds the entries an AuditLog keeps in memory for the dashboard.
const recentKept = 200

// AuditLog appends entries to a JSON-lines file. It is safe for concurrent
// use by many sessions of one process (serve), and several processes may
// append to the same file: each line is one write to an O_APPEND file, and
// Recent reads what others appended since. An AuditLog with an empty path
// keeps entries in memory only (demo).
type AuditLog struct {
	mu     sync.Mutex
	path   string
	file   *os.File
	recent []AuditEntry
	// read is how many bytes of the file recent has taken in.
	read   int64
	seq    int
	closed bool
}

// OpenAuditLog opens path for appending, creating it (mode 0600) and its
// parent directories, and loads its newest entries for Recent. An empty
// path gives an in-memory log.
func OpenAuditLog(path string) (*AuditLog, error) {
	a := &AuditLog{path: path}
	if path == "" {
		return a, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the audit log directory %s: %w; choose a writable audit log path", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the audit log %s: %w; choose a writable audit log path", path, err)
	}
	a.file = f
	a.catchUp()
	return a, nil
}

// Path is the file the log appends to ("" for an in-memory log).
func (a *AuditLog) Path() string { return a.path }

// Close closes the file.
func (a *AuditLog) Close() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.file == nil {
		return nil
	}
	err := a.file.Close()
	a.file = nil
	return err
}

// Append writes e as one line and fsyncs it before returning, so the line
// is on disk before the action it announces runs.
func (a *AuditLog) Append(e AuditEntry) error {
	if a == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("the audit log %s is closed", a.path)
	}
	if a.file == nil {
		a.remember(e)
		return nil
	}
	// One write per line: O_APPEND keeps concurrent writers' lines whole.
	if _, err := a.file.Write(line); err != nil {
		return fmt.Errorf("cannot write the audit log %s: %w", a.path, err)
	}
	if err := a.file.Sync(); err != nil {
		return fmt.Errorf("cannot sync the audit log %s: %w", a.path, err)
	}
	a.catchUp()
	return nil
}

// catchUp takes in the complete lines appended to the file since the last
// call, this process's and others'. Called with mu held (or before the log
// is shared). A file that shrank (rotated, truncated) is read again.
func (a *AuditLog) catchUp() {
	if a.path == "" {
		return
	}
	fi, err := os.Stat(a.path)
	if err != nil || fi.Size() == a.read {
		return
	}
	if fi.Size() < a.read {
		a.recent, a.read = nil, 0
	}
	f, err := os.Open(a.path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, fi.Size()-a.read)
	n, _ := f.ReadAt(buf, a.read)
	buf = buf[:n]
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return // a line still being written
	}
	es, _ := decodeAudit(bytes.NewReader(buf[:end+1]))
	a.read += int64(end + 1)
	a.remember(es...)
}

func (a *AuditLog) remember(es ...AuditEntry) {
	a.recent = append(a.recent, es...)
	if n := len(a.recent); n > recentKept && a.path != "" {
		a.recent = append([]AuditEntry(nil), a.recent[n-recentKept:]...)
	}
}

// Recent returns up to n newest entries, newest last, including what other
// processes appended to the same file.
func (a *AuditLog) Recent(n int) []AuditEntry {
	if a == nil || n <= 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.catchUp()
	}
	start := max(0, len(a.recent)-n)
	return append([]AuditEntry(nil), a.recent[start:]...)
}

// all returns every entry: the whole file, or memory for an in-memory log.
func (a *AuditLog) all() ([]AuditEntry, error) {
	if a == nil {
		return nil, nil
	}
	if a.path == "" {
		return a.Recent(math.MaxInt), nil
	}
	return ReadAuditLog(a.path)
}

// nextID returns a new action id, unique within this log and across
// processes appending to the same file.
func (a *AuditLog) nextID(now time.Time) string {
	if a == nil {
		return now.UTC().Format("20060102T150405.000000Z")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	return fmt.Sprintf("%s-%d-%d", now.UTC().Format("20060102T150405.000000Z"), os.Getpid(), a.seq)
}

// ReadAuditLog reads every entry of an audit log file. A line that is not
// valid JSON (a write torn by a crash) is skipped; a missing file is no
// entries.
func ReadAuditLog(path string) ([]AuditEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the audit log %s: %w", path, err)
	}
	defer f.Close()
	return decodeAudit(f)
}

func decodeAudit(r io.Reader) ([]AuditEntry, error) {
	var out []AuditEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		var e AuditEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}
