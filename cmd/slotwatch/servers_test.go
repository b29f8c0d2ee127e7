package main

import (
	"strings"
	"testing"
)

func TestConfigServerLists(t *testing.T) {
	path := writeConfig(t, `pg:
  - postgres://mon@primary.db:5432/app
  - name: replica-1
    dsn: host=replica1.db port=5433 user=mon dbname=app
redis:
  - redis://cache-a:6379/0
  - {name: sessions, url: "redis://sessions:6379", cluster: true}
  - redis+cluster://c1:7000,c2:7001
`)
	s, err := (&targetFlags{configPath: path}).resolve(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.PG != "postgres://mon@primary.db:5432/app" || s.Redis != "redis://cache-a:6379/0" {
		t.Fatalf("primaries: pg %q redis %q", s.PG, s.Redis)
	}
	if got := strings.Join(s.servers.names(kindPG), " "); got != "primary.db:5432 replica-1" {
		t.Errorf("pg names %q", got)
	}
	if got := strings.Join(s.servers.names(kindRedis), " "); got != "cache-a:6379 sessions c1:7000" {
		t.Errorf("redis names %q", got)
	}
	cfg, err := collectorsConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PG.Name != "primary.db:5432" || len(cfg.MorePG) != 1 || cfg.MorePG[0].Name != "replica-1" ||
		cfg.MorePG[0].DSN != "host=replica1.db port=5433 user=mon dbname=app" || cfg.MorePG[0].Interval != s.Interval {
		t.Errorf("pg config: %+v %+v", cfg.PG, cfg.MorePG)
	}
	if cfg.Redis.Cluster || len(cfg.MoreRedis) != 2 || !cfg.MoreRedis[0].Cluster || cfg.MoreRedis[0].Name != "sessions" {
		t.Errorf("redis config: %+v %+v", cfg.Redis, cfg.MoreRedis)
	}
	// The probe and jobs belong to the primary.
	if cfg.Probe == nil || cfg.Probe.DSN != s.PG || cfg.Jobs == nil || cfg.Jobs.DSN != s.PG {
		t.Errorf("probe %+v jobs %+v", cfg.Probe, cfg.Jobs)
	}
}

func TestConfigServerListErrors(t *testing.T) {
	for body, want := range map[string]string{
		"pg:\n  - postgres://a@x/app\n  - name: r1\n":    "line 3: pg[1]: has no dsn",
		"pg:\n  - {name: r1, url: postgres://a@x/app}\n": "pg[0]: unknown key url (use name, dsn)",
		"redis:\n  - {url: redis://x, cluster: maybe}\n": "cluster maybe is not true or false",
		"redis:\n  - {name: a/b, url: redis://x}\n":      "server name a/b may use only",
		"pg: {dsn: postgres://a@x/app}\n":                "line 1: pg must be a DSN string or a list of them",
		"pg:\n  - \"\"\n":                                "pg[0]: is empty",
	} {
		_, err := (&targetFlags{configPath: writeConfig(t, body)}).resolve(envFrom(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want it to contain %q", body, err, want)
		}
	}
}

func TestDuplicateServerNamesAreRefused(t *testing.T) {
	path := writeConfig(t, "pg:\n  - {name: db, dsn: postgres://a@x/app}\n  - {name: db, dsn: postgres://a@y/app}\n")
	s, err := (&targetFlags{configPath: path}).resolve(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collectorsConfig(s); err == nil || !strings.Contains(err.Error(), "db") {
		t.Fatalf("duplicate names accepted: %v", err)
	}
}

func TestServerFlagRepeatsAndNames(t *testing.T) {
	fs := newFlagSet(&environment{stderr: &strings.Builder{}}, "watch")
	var tf targetFlags
	tf.register(fs)
	args := []string{"--pg", "postgres://a@primary/app", "--pg", "replica-1=postgres://a@replica/app",
		"--pg", "host=db3 port=5432", "--redis", "cache=redis+cluster://c1:7000,c2:7001"}
	if code, done := parseFlags(fs, args); done {
		t.Fatalf("parse: exit %d", code)
	}
	want := []serverEntry{{Target: "postgres://a@primary/app"}, {Name: "replica-1", Target: "postgres://a@replica/app"},
		{Target: "host=db3 port=5432"}}
	if len(tf.pg) != len(want) {
		t.Fatalf("--pg values %+v", tf.pg)
	}
	for i := range want {
		if tf.pg[i] != want[i] {
			t.Errorf("--pg %d = %+v, want %+v", i, tf.pg[i], want[i])
		}
	}
	if len(tf.redis) != 1 || tf.redis[0].Name != "cache" || tf.redis[0].Target != "redis+cluster://c1:7000,c2:7001" {
		t.Errorf("--redis %+v", tf.redis)
	}
	// Flags replace the file's and the environment's servers entirely.
	s, err := tf.resolve(envFrom(map[string]string{"SLOTWATCH_PG": "postgres://env@db/app"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.servers.names(kindPG), " "); got != "primary:5432 replica-1 db3:5432" {
		t.Errorf("names %q", got)
	}
	if _, err := parseServerArg("bad name=postgres://x"); err != nil {
		t.Errorf("a value whose prefix is no name is a whole target: %v", err)
	}
}

func TestPickServer(t *testing.T) {
	s := servers{pg: []serverEntry{{Name: "primary", Target: "postgres://a@p/app"}, {Name: "replica-1", Target: "postgres://a@r/app"}},
		redis: []serverEntry{{Target: "redis://:secret@cache:6379"}}}
	if _, err := s.pick(kindPG, ""); err == nil || !strings.Contains(err.Error(), "primary, replica-1") || !strings.Contains(err.Error(), "--server") {
		t.Errorf("no --server with two PostgreSQL servers: %v", err)
	}
	if e, err := s.pick(kindPG, "replica-1"); err != nil || e.Target != "postgres://a@r/app" {
		t.Errorf("pick replica-1: %+v %v", e, err)
	}
	if e, err := s.pick(kindRedis, ""); err != nil || e.label(kindRedis) != "cache:6379" {
		t.Errorf("the only Redis: %+v %v", e, err)
	}
	_, err := s.pick(kindRedis, "nope")
	if err == nil || !strings.Contains(err.Error(), "cache:6379") || strings.Contains(err.Error(), "secret") {
		t.Errorf("unknown server: %v", err)
	}
}

func TestServerLabels(t *testing.T) {
	for _, c := range []struct {
		kind string
		e    serverEntry
		want string
	}{
		{kindPG, serverEntry{Target: "postgres://u:secret@db1:5433/app"}, "db1:5433"},
		{kindPG, serverEntry{Target: "host=db2 user=u password=secret"}, "db2:5432"},
		{kindPG, serverEntry{Name: "replica-1", Target: "postgres://db3/app"}, "replica-1"},
		{kindRedis, serverEntry{Target: "redis://:secret@cache:6380/2"}, "cache:6380"},
		{kindRedis, serverEntry{Target: "redis+cluster://:secret@rc1:7000,rc2:7001/0"}, "rc1:7000"},
		{kindRedis, serverEntry{Target: "REDISS+CLUSTER://rc3:7002"}, "rc3:7002"},
	} {
		if got := c.e.label(c.kind); got != c.want {
			t.Errorf("label of %+v = %q, want %q", c.e, got, c.want)
		}
	}
}
