package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// hostileName would retitle the operator's terminal (OSC 0, ended by BEL)
// if printed raw.
const hostileName = "evil\x1b]0;pwned\x07"

// testHostileNames: a role and a database whose names carry terminal
// control sequences reach every human-readable output neutralised, and the
// JSON output exactly.
func (m *mitigationServers) testHostileNames(t *testing.T) {
	m.pg.Psql(t, "postgres", `CREATE ROLE "`+hostileName+`" LOGIN`)
	m.pg.Psql(t, "postgres", `CREATE DATABASE "`+hostileName+`db"`)
	conn, err := pgx.Connect(context.Background(), "postgres://"+url.PathEscape(hostileName)+"@"+m.pg.Host+":"+strconv.Itoa(m.pg.Port)+"/"+url.PathEscape(hostileName+"db")+"?sslmode=disable&application_name=hostile-app")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	dsn := m.pg.DSNFor("postgres", "postgres")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"terminate preview", []string{"terminate", "--pg", dsn, "--audit-log", audit, "--user", "evil*"}},
		{"snapshot text", []string{"snapshot", "--pg", dsn}},
		{"guard show", []string{"guard", "show", "--pg", dsn, "--audit-log", audit, "--role", hostileName}},
		{"guard set preview", []string{"guard", "set", "idle_session_timeout", "5min", "--pg", dsn, "--audit-log", audit, "--role", hostileName}},
		{"server error", []string{"snapshot", "--pg", "postgres://" + url.PathEscape(hostileName+"x") + "@" + m.pg.Host + ":" + strconv.Itoa(m.pg.Port) + "/postgres?sslmode=disable"}},
	} {
		_, out, errOut := mitRun(t, c.args...)
		if strings.ContainsAny(out+errOut, "\x1b\x07") {
			t.Errorf("%s printed raw control characters:\n%q\n%q", c.name, out, errOut)
		}
		if !strings.Contains(out+errOut, "evil?]0;pwned?") {
			t.Errorf("%s does not show the name, neutralised:\n%s\n%s", c.name, out, errOut)
		}
	}
	code, out, errOut := mitRun(t, "snapshot", "--json", "--pg", dsn)
	if code != exitOK || !strings.Contains(out, `"usename": "evil\u001b]0;pwned\u0007"`) {
		t.Errorf("snapshot --json must keep the name exact: exit %d\n%s\n%s", code, out, errOut)
	}
}
