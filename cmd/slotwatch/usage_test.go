package main

import (
	"strings"
	"testing"
)

// TestUsageMistakesExitTwo: a mistake on the command line or in a target
// is exit 2 in every command, said once, and nothing is dialled for it.
// Port 1 on loopback has no server: a command that tried to connect would
// exit 1 instead.
func TestUsageMistakesExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", "--pg", "mysql://app@127.0.0.1:1/db"}, "has the scheme mysql, which is not PostgreSQL's"},
		{[]string{"terminate", "--pg", "mysql://app@127.0.0.1:1/db", "--app", "web"}, "has the scheme mysql"},
		{[]string{"snapshot", "--pg", "postgres://app:pw@127.0.0.1:notaport/db"}, "is not a number from 1 to 65535"},
		{[]string{"redis-kill", "--redis", "http://127.0.0.1:1", "--name", "x"}, "the Redis target"},
		{[]string{"guard", "set", "idle_session_timeout", "5min", "--pg", "postgres://postgres@127.0.0.1:1/x"}, "is set per role: name the role with --role"},
		{[]string{"guard", "revert", "idle_in_transaction_session_timeout", "--pg", "postgres://postgres@127.0.0.1:1/x"}, "is set per role"},
		{[]string{"drill", "--pg", "postgres://x@127.0.0.1:1/x", "--no-redis", "--exhaust", "--through", "postgres://x@127.0.0.1:2/x", "--yes"},
			"exhausting takes PostgreSQL's slots"},
	} {
		code, _, errOut := runQuiet(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q; want 2 saying %q", c.args, code, errOut, c.want)
		}
		if n := strings.Count(errOut, "\n"); n != 1 {
			t.Errorf("%v: %d lines on stderr, want the one sentence:\n%s", c.args, n, errOut)
		}
	}
}
