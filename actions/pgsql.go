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

// signalStatement builds the statement that signals one previewed backend
// only if, at that instant, the pid still has the previewed backend_start,
// is still in the previewed state (or one of the filter's states) and still
// matches the filter. Identity, predicate and signal are one statement, so
// nothing can change between the check and the signal.
//
// With args != nil the values are bind parameters ($1 pid, $2 backend_start,
// $3 previewed state unless the filter names states, then the filter's)
// collected into *args; with
// args == nil they are rendered as literals for display.
func signalStatement(kind Kind, f SessionFilter, timeoutMS int64, args *[]any) string {
	param := func(v any) string {
		if args == nil {
			return literal(v)
		}
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	pid, start, state := "<pid>", "<previewed backend_start>", "<previewed state>"
	if args != nil {
		pid, start = param(nil), param(nil)
		if len(f.States) == 0 {
			state = param(nil)
		}
	}
	stateCheck := "a.state IS NOT DISTINCT FROM " + state
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
	return fmt.Sprintf(`SELECT a.backend_start, a.state, c.same_backend, c.same_state, c.matches,
  CASE WHEN c.same_backend AND c.same_state AND c.matches THEN %[5]s END AS signalled
FROM pg_stat_activity a CROSS JOIN LATERAL (SELECT
  COALESCE(a.backend_start = %[2]s, false) AS same_backend,
  COALESCE(%[3]s, false) AS same_state,
  %[4]s AS matches) c
WHERE a.pid = %[1]s`, pid, start, stateCheck, match, signalCall(kind, timeoutMS))
}

func signalCall(kind Kind, timeoutMS int64) string {
	switch {
	case kind == Cancel:
		return "pg_cancel_backend(a.pid)"
	case timeoutMS > 0:
		return fmt.Sprintf("pg_terminate_backend(a.pid, %d)", timeoutMS)
	default:
		return "pg_terminate_backend(a.pid)"
	}
}

// describeSignal is the statement as shown in previews and the audit log.
func describeSignal(kind Kind, f SessionFilter, timeoutMS int64) string {
	return signalStatement(kind, f, timeoutMS, nil)
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
