package actions

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slotwatch/slotwatch/collectors"
)

// ErrReadOnly is returned by every action while the console runs read-only
// (--read-only or read_only: true in the config).
var ErrReadOnly = errors.New("read-only mode disables every action; run without it (read_only in the configuration) to act")

// ErrViewer refuses every action of a served session whose SSH key is a
// viewer's: viewers watch, operators act.
var ErrViewer = errors.New("this session is a viewer, which is read-only: only an operator's key may act")

// RefusedError is an action the safety policy refuses as a whole, e.g. a
// session action without any filter. Callers map it to exit status 3.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// IsRefused reports whether err is a read-only or safety-policy refusal.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.Is(err, ErrReadOnly) || errors.Is(err, ErrViewer) || errors.As(err, &r)
}

// pgConnectError is a failed connection in one sentence led by what decided
// it: the server's refusal (a wrong password, an unknown role or database)
// when the server answered, else the network's error, once. pgx lists every
// attempt (sslmode=prefer tries TLS first), which puts the irrelevant TLS
// refusal in front of the answer; the SQLSTATE, never the message text,
// tells the cases apart.
func pgConnectError(server, role string, err error) error {
	host, _, _ := strings.Cut(server, "/")
	if msg, ok := collectors.ConnectRefusal(host, err); ok {
		return &slotsError{msg: msg, cause: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return &slotsError{msg: fmt.Sprintf("PostgreSQL on %s refused the connection for user %s: %s (SQLSTATE %s)", host, role, pgErr.Message, pgErr.Code), cause: err}
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return &slotsError{msg: fmt.Sprintf("cannot connect to PostgreSQL on %s: %v; check that the server runs and the DSN's host and port", host, netErr), cause: err}
	}
	return fmt.Errorf("cannot connect to PostgreSQL on %s: %w", host, err)
}
