package actions

import (
	"fmt"
	"strconv"
	"strings"
)

// clientExpr is how a backend's client is named in filters: the IP address,
// "local" for a Unix socket, "" when unknown. Preview and re-check use the
// same expression.
const clientExpr = `COALESCE(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local' ELSE '' END)`

// signalFixedArgs are the bind parameters of the batch statement that
// identify the previewed targets and carry the policy: $1 pids, $2
// backend_starts, $3 previewed states, $4 the regexps the protected globs
// compile to, $5 whether superusers may be signalled. The filter's values
// follow.
const signalFixedArgs = 5

// signalStatement builds the one statement that signals a whole batch of
// previewed backends, each only if, at that instant, its pid still has the
// previewed backend_start, it is still in the previewed state (or one of
// the filter's states), still matches the filter, and the safety policy
// still allows it: a client backend, not replication, not this connection's
// own backend, not a superuser's (unless allowed), not a protected
// application, and one the role may signal at all (so no permission error
// can abort the statement half-way). Identity, policy, predicate and signal
// are one statement, so nothing can change between the check and the
// signal.
//
// With args != nil the filter's values are bind parameters appended to
// *args (which must already hold the signalFixedArgs); with args == nil
// everything is rendered for display.
func signalStatement(kind Kind, f SessionFilter, protect Protection, args *[]any) string {
	fixed := [signalFixedArgs]string{"$1", "$2", "$3", "$4", "$5"}
	comment := ""
	param := func(v any) string {
		if args == nil {
			return literal(v)
		}
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	if args == nil {
		globs, res := protect.Protected()
		fixed = [signalFixedArgs]string{"<previewed pids>", "<previewed backend_starts>", "<previewed states>",
			literal(res), strconv.FormatBool(protect.AllowSuperuser())}
		comment = "\n-- protected applications: " + strings.Join(globs, ", ")
	}
	stateCheck := "a.state IS NOT DISTINCT FROM t.state"
	if len(f.States) > 0 {
		stateCheck = "a.state = ANY(" + param(f.States) + "::text[])"
	}
	var preds []string
	if f.IdleOver > 0 {
		preds = append(preds, "now() - a.state_change > make_interval(secs => "+param(f.IdleOver.Seconds())+"::float8)")
	}
	for _, p := range []struct{ expr, glob string }{
		{"a.application_name", f.App}, {"a.usename", f.User}, {"a.datname", f.DB}, {clientExpr, f.Client},
	} {
		if p.glob != "" {
			preds = append(preds, p.expr+" ~ "+param(globRegexp(p.glob)))
		}
	}
	match := "true"
	if len(preds) > 0 {
		match = "COALESCE(" + strings.Join(preds, " AND ") + ", false)"
	}
	return fmt.Sprintf(`SELECT t.pid, a.pid IS NOT NULL, a.backend_start, a.state, COALESCE(a.backend_type, ''), COALESCE(r.rolsuper, false),
  COALESCE(a.application_name, ''), COALESCE(a.pid = pg_backend_pid(), false),
  c.same_backend, c.same_state, c.matches, c.protected, COALESCE(c.may_signal, false),
  CASE WHEN c.same_backend AND c.same_state AND c.matches AND NOT c.protected AND c.may_signal
    THEN %[8]s END AS signalled
FROM unnest(%[1]s::int4[], %[2]s::timestamptz[], %[3]s::text[]) AS t(pid, start, state)
LEFT JOIN pg_stat_activity a ON a.pid = t.pid
LEFT JOIN pg_roles r ON r.oid = a.usesysid
CROSS JOIN (SELECT rolsuper AS super, pg_has_role('pg_signal_backend', 'USAGE') AS can_signal
  FROM pg_roles WHERE rolname = current_user) me
CROSS JOIN LATERAL (SELECT
  COALESCE(a.backend_start = t.start, false) AS same_backend,
  COALESCE(%[6]s, false) AS same_state,
  %[7]s AS matches,
  COALESCE(a.pid = pg_backend_pid()
    OR a.backend_type IS DISTINCT FROM 'client backend'
    OR (COALESCE(r.rolsuper, false) AND NOT %[5]s::bool)
    OR COALESCE(a.application_name, '') ~ ANY(%[4]s::text[]), true) AS protected,
  me.super OR (NOT COALESCE(r.rolsuper, false) AND (me.can_signal OR pg_has_role(a.usesysid, 'USAGE'))) AS may_signal) c%[9]s`,
		fixed[0], fixed[1], fixed[2], fixed[3], fixed[4], stateCheck, match, signalCall(kind), comment)
}

// waitStatement lists which of the signalled backends may still exist: its
// pid with its backend_start, or its pid with a backend_start this role may
// not see (then its exit cannot be proven, so it is not counted gone). Each
// pid is looked up on its own (pg_stat_get_activity(pid)): a check scanning
// pg_stat_activity builds a row per backend and costs the server several
// milliseconds at 1,000 backends, this one well under one, which matters as
// it runs every few milliseconds while a batch exits. A pid now held by a
// newer backend means the signalled one is gone.
const waitStatement = `SELECT t.pid FROM unnest($1::int4[], $2::timestamptz[]) AS t(pid, start)
WHERE EXISTS (SELECT FROM pg_stat_get_activity(t.pid) a WHERE a.backend_start = t.start OR a.backend_start IS NULL)`

func signalCall(kind Kind) string {
	if kind == Cancel {
		return "pg_cancel_backend(a.pid)"
	}
	// No timeout argument: the whole batch is signalled at once and then
	// waited for together (waitStatement), on every server version.
	return "pg_terminate_backend(a.pid)"
}

// describeSignal is the statement as shown in previews and the audit log.
func describeSignal(kind Kind, f SessionFilter, protect Protection) string {
	return signalStatement(kind, f, protect, nil)
}

// literal renders a value as SQL for display only; execution binds values.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return quoteLiteral(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = quoteLiteral(s)
		}
		return "ARRAY[" + strings.Join(q, ", ") + "]"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
