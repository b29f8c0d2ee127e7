package collectors

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// refusalError is a connection refused for lack of slots (SQLSTATE 53300),
// explained from what slotwatch knows of the role rather than from the
// server's wording, which lc_messages translates and versions change. It
// keeps the driver's error for errors.As.
type refusalError struct {
	msg   string
	cause error
}

func (e *refusalError) Error() string { return e.msg }
func (e *refusalError) Unwrap() error { return e.cause }

// slotRefusal is what is known when a server refuses a connection of user.
type slotRefusal struct {
	subject string // "cannot connect", "the jobs collector cannot connect"
	target  string
	user    string
	role    roleAttrs
	known   bool // role was read on an earlier connection
	held    int  // connections slotwatch holds on that server now
}

// refusedForSlots returns the explained refusal, or nil when err is not a
// 53300 refusal.
func refusedForSlots(err error, r slotRefusal) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != SQLStateTooManyConnections {
		return nil
	}
	says := fmt.Sprintf("the server says: %q (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	var msg string
	switch {
	case r.known && r.role.mayUseReserved():
		// Never tell a superuser to become one: even the reserved slots
		// are gone.
		msg = fmt.Sprintf("%s to PostgreSQL at %s: every connection slot is taken, even those reserved for superusers; %s. slotwatch itself holds %d of them; free slots from a session that is already open (terminate idle sessions) or raise max_connections",
			r.subject, r.target, says, r.held)
	case r.known:
		msg = fmt.Sprintf("%s to PostgreSQL at %s as %s, an ordinary role: no slot it may use is free; %s. Watch as a role allowed the reserved slots (a superuser, or on PostgreSQL 16+ a member of pg_use_reserved_connections)",
			r.subject, r.target, r.user, says)
	default:
		msg = fmt.Sprintf("%s to PostgreSQL at %s as %s: no slot this role may use is free; %s. If %s is an ordinary role, watch as a role allowed the reserved slots (a superuser, or on PostgreSQL 16+ a member of pg_use_reserved_connections); if it is one, even the reserved slots are taken (slotwatch itself holds %d)",
			r.subject, r.target, r.user, says, r.user, r.held)
	}
	return &refusalError{msg: msg, cause: err}
}
