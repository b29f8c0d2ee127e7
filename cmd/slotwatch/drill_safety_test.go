package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestDrillNeedsItsTargetsNamed: no default server is drilled.
func TestDrillNeedsItsTargetsNamed(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"drill"}, "slotwatch: drill needs its PostgreSQL server named: pass --pg DSN"},
		{[]string{"drill", "--pg", "postgres://x@127.0.0.1:1/db"}, "slotwatch: drill needs its Redis server named: pass --redis URL, or --no-redis"},
		{[]string{"drill", "--pg", "postgres://x@127.0.0.1:1/db", "--redis", "redis://127.0.0.1:1", "--no-redis"}, "contradict each other"},
	} {
		code, _, errOut := runQuiet(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d %q; want exit 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestDrillSaysWhatItTakesAndNeedsYes runs the real binary without a
// terminal: it names what it would take, computed from the server's slots,
// refuses without --yes, and creates nothing.
func TestDrillSaysWhatItTakesAndNeedsYes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40, SuperuserReservedConns: 3})
	rds := testserver.StartRedis(t, testserver.RedisOptions{})
	bin := buildSlotwatch(t)
	cmd := exec.Command(bin, "drill", "--pg", pg.DSN, "--redis", rds.URL, "--redis-clients", "300")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
		t.Fatalf("drill without --yes and without a terminal: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	want := regexp.MustCompile(fmt.Sprintf(`^slotwatch: the drill will hold \d+ of 37 usable slots on %s:%d and open up to 300 Redis clients on %s \(database talentflow_drill and role talentflow_drill, created if missing\); with no terminal to confirm it, run again with --yes to start it\.\n$`,
		regexp.QuoteMeta(pg.Host), pg.Port, regexp.QuoteMeta(strings.TrimSuffix(strings.TrimPrefix(rds.URL, "redis://"), "/0"))))
	if !want.MatchString(stderr.String()) {
		t.Errorf("stderr %q does not match %s", stderr.String(), want)
	}
	if got := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'talentflow_drill'"); got != "0" {
		t.Errorf("a refused drill created its database (count %s)", got)
	}
}

func TestDrillAnswerIsYesOnlyWhenSaid(t *testing.T) {
	ctx := context.Background()
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, "\n": false, "n\n": false, "": false, "yes please\n": false} {
		if got := askYes(ctx, strings.NewReader(in)); got != want {
			t.Errorf("askYes(%q) = %v, want %v", in, got, want)
		}
	}
}
