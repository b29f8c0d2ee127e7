package collectors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func liveInstance(kind, host, port string) FleetInstance {
	return FleetInstance{Kind: kind, Labels: map[string]string{"instance": host + ":9187", "host": host, "port": port}}
}

// TestLiveNames: an attached server is called LivePrefix and its target's
// host:port, never by a label that could hold more, and never a password.
func TestLiveNames(t *testing.T) {
	for _, c := range []struct{ kind, target, want string }{
		{SourcePostgres, "postgres://slotwatch:s3cret@db7.internal:5432/postgres", "live:db7.internal:5432"},
		{SourcePostgres, "host=db8 port=6432 user=slotwatch dbname=postgres", "live:db8:6432"},
		{SourceRedis, "redis://:hunter2@cache-3:6379/0", "live:cache-3:6379"},
	} {
		got := LiveName(c.kind, c.target)
		// The fleet view names an instance from its redacted target.
		if redacted := LiveName(c.kind, RedactURL(c.target)); redacted != got {
			t.Errorf("LiveName of the redacted %q = %q, of the target %q", c.target, redacted, got)
		}
		if got != c.want || strings.Contains(got, "s3cret") || strings.Contains(got, "hunter2") {
			t.Errorf("LiveName(%s, %q) = %q, want %q", c.kind, c.target, got, c.want)
		}
	}
}

// TestAttachLimitAndDetach: attaching to closed ports (real connection
// attempts that fail) lists the servers in Snapshot.Servers with their
// errors; the max_live+1th is refused in one sentence naming the limit,
// re-attaching the same instance is no new server, a detached one leaves
// the snapshot and its runner, and other kinds are refused.
func TestAttachLimitAndDetach(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := NewMailbox()
	set, err := Start(ctx, Config{PromFleet: &PromFleetConfig{URL: "http://127.0.0.1:1", Interval: time.Hour, MaxLive: 2,
		Live: LiveTemplates{Postgres: "postgres://slotwatch@{{.host}}:{{.port}}/postgres?connect_timeout=1", Redis: "redis://{{.host}}:{{.port}}/0"}}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if !set.Listed() || set.MaxLive() != 2 {
		t.Fatalf("listed %v, max %d", set.Listed(), set.MaxLive())
	}
	a, err := set.Attach(ctx, liveInstance(FleetPostgres, "127.0.0.1", "1"))
	if err != nil || a.Name != "live:127.0.0.1:1" || a.Primary {
		t.Fatalf("attach: %+v %v", a, err)
	}
	if again, err := set.Attach(ctx, liveInstance(FleetPostgres, "127.0.0.1", "1")); err != nil || again.Name != a.Name || len(set.Attached()) != 1 {
		t.Fatalf("re-attach: %+v %v, attached %v", again, err, set.Attached())
	}
	b, err := set.Attach(ctx, liveInstance(FleetRedis, "127.0.0.1", "2"))
	if err != nil || b.Name != "live:127.0.0.1:2" || set.RedisServer(b.Name) == nil || set.PGServer(a.Name) == nil {
		t.Fatalf("attach redis: %+v %v", b, err)
	}
	_, err = set.Attach(ctx, liveInstance(FleetPostgres, "127.0.0.1", "3"))
	var limit *ErrLiveLimit
	if !errors.As(err, &limit) || !strings.Contains(err.Error(), "2 servers") || !strings.Contains(err.Error(), "fleet.max_live") {
		t.Fatalf("third attach: %v", err)
	}
	if _, err := set.Attach(ctx, FleetInstance{Kind: FleetPgBouncer, Labels: map[string]string{"instance": "pgb:9127"}}); err == nil {
		t.Fatal("a pgbouncer instance was attached")
	}
	waitServers(t, out, func(s Snapshot) bool {
		i := slices.IndexFunc(s.Servers, func(sv ServerSnapshot) bool { return sv.Name == a.Name })
		return len(s.Servers) == 2 && i >= 0 && s.Servers[i].Error != "" && !s.Servers[i].Primary
	})
	if err := set.Detach(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if set.PGServer(a.Name) != nil || len(set.Attached()) != 1 {
		t.Fatalf("after detach: runner %v, attached %v", set.PGServer(a.Name), set.Attached())
	}
	waitServers(t, out, func(s Snapshot) bool { return len(s.Servers) == 1 && s.Servers[0].Name == b.Name })
	if err := set.Detach(ctx, a.Name); err == nil || !strings.Contains(err.Error(), b.Name) {
		t.Fatalf("detaching twice: %v", err)
	}
	if _, err := set.Attach(ctx, liveInstance(FleetPostgres, "127.0.0.1", "3")); err != nil {
		t.Fatalf("attach after a detach: %v", err)
	}
}

// TestAttachNeedsTemplates: without fleet.live there is nothing to attach
// and the snapshot keeps a single target's shape.
func TestAttachNeedsTemplates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	set, err := Start(ctx, Config{PromFleet: &PromFleetConfig{URL: "http://127.0.0.1:1", Interval: time.Hour}}, NewMailbox())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Attach(ctx, liveInstance(FleetPostgres, "127.0.0.1", "1")); err == nil || !strings.Contains(err.Error(), "fleet.live") {
		t.Fatalf("attach: %v", err)
	}
	if set.Listed() || set.MaxLive() != 0 {
		t.Fatal("a set that cannot attach lists its servers")
	}
}

func waitServers(t *testing.T, out *Mailbox, ok func(Snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last Snapshot
	for time.Now().Before(deadline) {
		select {
		case <-out.Ready():
			last, _ = out.Take()
			if ok(last) {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("servers never as expected: %+v", last.Servers)
}
