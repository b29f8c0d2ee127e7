package actions

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// globCases are shared with the PostgreSQL agreement test.
var globCases = []struct {
	glob, text string
	want       bool
}{
	{"web", "web", true},
	{"web", "web-1", false},
	{"web*", "web-1", true},
	{"*worker", "celery worker", true},
	{"web-?", "web-1", true},
	{"web-?", "web-12", false},
	{"10.0.[0-9].*", "10.0.3.17", true},
	{"10.0.[0-9].*", "10.0.12.17", false},
	{"10.0.0.1", "10.0.0.11", false},
	{"10.0.0.1", "10020011", false},
	{"[!a-c]x", "dx", true},
	{"[!a-c]x", "bx", false},
	{"[]x]", "]", true},
	{"a[", "a[", true},
	{"(app)+", "(app)+", true},
	{"(app)+", "appapp", false},
	{"$HOME^", "$HOME^", true},
	{"gunicorn: /srv/*", "gunicorn: /srv/app", true},
	{"café*", "café-1", true},
	{`a\b`, `a\b`, true},
	{"", "anything", true},
}

func TestGlobMatch(t *testing.T) {
	for _, c := range globCases {
		m, err := newMatcher(c.glob)
		if err != nil {
			t.Fatalf("%q: %v", c.glob, err)
		}
		if got := m.match(c.text); got != c.want {
			t.Errorf("glob %q on %q = %v, want %v (regexp %s)", c.glob, c.text, got, c.want, globRegexp(c.glob))
		}
	}
}

func FuzzGlobRegexp(f *testing.F) {
	for _, c := range globCases {
		f.Add(c.glob)
	}
	f.Fuzz(func(t *testing.T, glob string) {
		re, err := regexp.Compile(globRegexp(glob))
		if err != nil {
			return // invalid UTF-8 or odd classes may not compile; newMatcher reports it
		}
		if !strings.ContainsAny(glob, "*?[") && !re.MatchString(glob) {
			t.Fatalf("literal %q does not match itself (regexp %s)", glob, re)
		}
	})
}

func TestExcludeSession(t *testing.T) {
	p := DefaultPolicy()
	client := Backend{PID: 10, BackendType: "client backend", Usename: "web", ApplicationName: "talentflow-web"}
	cases := []struct {
		name   string
		mutate func(*Backend)
		policy func(*Policy)
		want   string
	}{
		{"ordinary web session", func(*Backend) {}, nil, ""},
		{"own connection", func(b *Backend) { b.PID = 1 }, nil, "own connection"},
		{"autovacuum", func(b *Backend) { b.BackendType = "autovacuum worker" }, nil, "not a client backend"},
		{"walsender", func(b *Backend) { b.BackendType = "walsender" }, nil, "replication"},
		{"replication flag", func(b *Backend) { b.Replication = true }, nil, "replication"},
		{"superuser", func(b *Backend) { b.Superuser = true }, nil, "superuser"},
		{"superuser allowed", func(b *Backend) { b.Superuser = true }, func(p *Policy) { p.AllowSuperuser = true }, ""},
		{"pg_dump", func(b *Backend) { b.ApplicationName = "pg_dump" }, nil, "protected application"},
		{"pg_basebackup", func(b *Backend) { b.ApplicationName = "pg_basebackup" }, nil, "protected application"},
		{"other slotwatch", func(b *Backend) { b.ApplicationName = "slotwatch" }, nil, "protected application"},
		{"glob protection", func(b *Backend) { b.ApplicationName = "etl-nightly" }, func(p *Policy) { p.ProtectedApps = []string{"etl-*"} }, "protected application"},
		{"hidden", func(b *Backend) { b.Hidden = true }, nil, "not visible"},
	}
	for _, c := range cases {
		b, pol := client, p
		c.mutate(&b)
		if c.policy != nil {
			c.policy(&pol)
		}
		got := pol.compile().excludeSession(b, 1)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSessionFilterMatches(t *testing.T) {
	b := Backend{PID: 7, State: "idle", StateSeconds: 700, ApplicationName: "talentflow-web", Usename: "web", Datname: "talentflow", ClientAddr: "10.0.3.4"}
	cases := []struct {
		f    SessionFilter
		want bool
	}{
		{SessionFilter{States: []string{"idle", "idle in transaction"}}, true},
		{SessionFilter{States: []string{"active"}}, false},
		{SessionFilter{IdleOver: 10 * time.Minute}, true},
		{SessionFilter{IdleOver: 12 * time.Minute}, false},
		{SessionFilter{App: "talentflow-*", User: "web", DB: "talentflow", Client: "10.0.3.*"}, true},
		{SessionFilter{Client: "10.0.4.*"}, false},
		{SessionFilter{PIDs: []int32{1, 7}}, true},
		{SessionFilter{PIDs: []int32{8}}, false},
	}
	for _, c := range cases {
		m, err := compileSessionFilter(c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.matches(b); got != c.want {
			t.Errorf("%s: %v, want %v", c.f, got, c.want)
		}
	}
	if !(SessionFilter{Limit: 5}).Empty() || (SessionFilter{States: []string{"idle"}}).Empty() {
		t.Error("Empty: a limit alone is no filter; a state is one")
	}
}

func TestRedisFilterAndPolicy(t *testing.T) {
	c := collectors.RedisClient{ID: 5, Addr: "[::1]:5000", Name: "cache-3", LibName: "redis-py", IdleSeconds: 90, AgeSeconds: 4000, Flags: "N"}
	for _, x := range []struct {
		f    RedisFilter
		want bool
	}{
		{RedisFilter{Host: "::1"}, true},
		{RedisFilter{Host: "10.*"}, false},
		{RedisFilter{Name: "cache-*", Lib: "redis-py"}, true},
		{RedisFilter{IdleOver: time.Minute, AgeOver: time.Hour}, true},
		{RedisFilter{IdleOver: 2 * time.Minute}, false},
		{RedisFilter{IDs: []int64{6}}, false},
	} {
		m, err := compileRedisFilter(x.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.matches(c); got != x.want {
			t.Errorf("%s: %v, want %v", x.f, got, x.want)
		}
	}
	p := DefaultPolicy().compile()
	if r := p.excludeRedis(c, 5); !strings.Contains(r, "own") {
		t.Errorf("own id: %q", r)
	}
	replica := c
	replica.Flags = "S"
	if r := p.excludeRedis(replica, 1); !strings.Contains(r, "replication") {
		t.Errorf("replica: %q", r)
	}
	named := c
	named.Name = "slotwatch"
	if r := p.excludeRedis(named, 1); !strings.Contains(r, "protected") {
		t.Errorf("slotwatch client: %q", r)
	}
	if r := p.excludeRedis(c, 1); r != "" {
		t.Errorf("ordinary client excluded: %q", r)
	}
	for addr, host := range map[string]string{"10.0.0.1:6000": "10.0.0.1", "[fe80::1]:7": "fe80::1", "/tmp/redis.sock:0": "/tmp/redis.sock"} {
		if got := clientHost(addr); got != host {
			t.Errorf("clientHost(%q) = %q, want %q", addr, got, host)
		}
	}
}

func TestCurrentOperator(t *testing.T) {
	env := map[string]string{"SUDO_USER": "alice", "USER": "root", "SSH_CONNECTION": "203.0.113.7 51514 10.0.0.2 22"}
	op := CurrentOperator(func(k string) string { return env[k] })
	if op.User != "alice" || op.SSHClient != "203.0.113.7" {
		t.Fatalf("operator %+v", op)
	}
	op = CurrentOperator(func(k string) string { return map[string]string{"USER": "bob"}[k] })
	if op.User != "bob" || op.SSHClient != "" {
		t.Fatalf("operator %+v", op)
	}
}

func TestAuditLogAppendAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "audit.jsonl")
	a, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range []string{PhaseIntent, PhaseResult} {
		if err := a.Append(AuditEntry{Phase: phase, Action: ActionTerminate, Done: []int64{1}}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	// A crash can tear the last line; it is skipped, the rest kept.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"phase":"inte`)
	f.Close()
	es, err := ReadAuditLog(path)
	if err != nil || len(es) != 2 || es[0].Phase != PhaseIntent || es[1].Done[0] != 1 {
		t.Fatalf("entries %+v, err %v", es, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	b, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Recent(10); len(got) != 2 {
		t.Fatalf("reopened log recalls %d entries, want 2", len(got))
	}
	mem, _ := OpenAuditLog("")
	mem.Append(AuditEntry{Phase: PhaseDeclined})
	if got := mem.Recent(5); len(got) != 1 || mem.Path() != "" {
		t.Fatalf("memory log %+v", got)
	}
}
