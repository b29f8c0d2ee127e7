package actions

import (
	"bufio"
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

type redisFixture struct {
	srv   *testserver.Redis
	admin *redis.Client
}

func TestRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis server")
	}
	t.Parallel()
	srv := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 200, Args: []string{"--protected-mode", "no"}})
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2, ClientName: "test-admin", PoolSize: 1})
	t.Cleanup(func() { _ = admin.Close() })
	f := &redisFixture{srv: srv, admin: admin}
	t.Run("kill by id", f.testByID)
	t.Run("kill by host", f.testByHost)
	t.Run("kill by name glob, protected names survive", f.testByName)
	t.Run("kill by lib-name", f.testByLib)
	t.Run("idle-over and age-over, a client turning busy survives", f.testIdleAndAge)
	t.Run("own connection and read-only", f.testOwnAndReadOnly)
	t.Run("timeout guard set and revert", f.testGuard)
	t.Run("borrowed connection, reconnected", f.testBorrowed)
}

// client opens a raw connection from localIP named name.
func (f *redisFixture) client(t *testing.T, localIP, name string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	c, err := d.Dial("tcp", f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	send(t, c, "CLIENT SETNAME "+name)
	return c
}

func send(t *testing.T, c net.Conn, cmd string) {
	t.Helper()
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "-") {
		t.Fatalf("%s: %q %v", cmd, line, err)
	}
}

// names lists the names of connected clients.
func (f *redisFixture) names(t *testing.T) []string {
	t.Helper()
	reply, err := f.admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := collectors.ParseClientList(reply)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func (f *redisFixture) clientID(t *testing.T, name string) int64 {
	t.Helper()
	reply, _ := f.admin.ClientList(context.Background()).Result()
	cs, _ := collectors.ParseClientList(reply)
	for _, c := range cs {
		if c.Name == name {
			return c.ID
		}
	}
	t.Fatalf("no client named %s", name)
	return 0
}

func (f *redisFixture) service(t *testing.T, policy Policy) (*Service, *RedisConn, string) {
	t.Helper()
	rc, err := DialRedis(context.Background(), f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = audit.Close() })
	return NewService(nil, rc, policy, audit, Operator{User: "oncall"}), rc, path
}

// kill previews and executes f, returning the report.
func kill(t *testing.T, svc *Service, filter RedisFilter) RedisReport {
	t.Helper()
	plan, err := svc.PreviewRedis(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	report, err := svc.ExecuteRedis(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	return report
}

// closeAll disconnects every client but the admin, between subtests.
func (f *redisFixture) closeAll(t *testing.T) {
	t.Helper()
	if err := f.admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		t.Fatal(err)
	}
}

func (f *redisFixture) testByID(t *testing.T) {
	defer f.closeAll(t)
	f.client(t, "127.0.0.1", "victim")
	f.client(t, "127.0.0.1", "bystander")
	svc, rc, path := f.service(t, DefaultPolicy())
	report := kill(t, svc, RedisFilter{IDs: []int64{f.clientID(t, "victim")}})
	if c := Counts(report.Results); c[Done] != 1 {
		t.Fatalf("results %+v", report.Results)
	}
	if got := f.names(t); !slices.Equal(got, []string{"bystander", "slotwatch", "test-admin"}) {
		t.Fatalf("clients left %v", got)
	}
	es := readAudit(t, path)
	if len(es) != 2 || es[1].Phase != PhaseResult || len(es[1].Done) != 1 || es[1].Server != rc.Server() {
		t.Fatalf("audit %+v", es)
	}
}

func (f *redisFixture) testByHost(t *testing.T) {
	defer f.closeAll(t)
	f.client(t, "127.0.0.2", "far-1")
	f.client(t, "127.0.0.2", "far-2")
	f.client(t, "127.0.0.1", "near")
	svc, _, _ := f.service(t, DefaultPolicy())
	report := kill(t, svc, RedisFilter{Host: "127.0.0.2"})
	if c := Counts(report.Results); c[Done] != 2 {
		t.Fatalf("results %+v", report.Results)
	}
	if got := f.names(t); !slices.Equal(got, []string{"near", "slotwatch", "test-admin"}) {
		t.Fatalf("clients left %v", got)
	}
}

func (f *redisFixture) testByName(t *testing.T) {
	defer f.closeAll(t)
	f.client(t, "127.0.0.1", "cache-1")
	f.client(t, "127.0.0.1", "cache-22")
	f.client(t, "127.0.0.1", "queue-1")
	f.client(t, "127.0.0.1", "slotwatch-collector")
	svc, _, _ := f.service(t, DefaultPolicy())
	plan, err := svc.PreviewRedis(context.Background(), RedisFilter{Name: "*-[0-9]*"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 3 {
		t.Fatalf("targets %+v", plan.Targets)
	}
	report := kill(t, svc, RedisFilter{Name: "cache-*"})
	if c := Counts(report.Results); c[Done] != 2 {
		t.Fatalf("results %+v", report.Results)
	}
	if got := f.names(t); !slices.Equal(got, []string{"queue-1", "slotwatch", "slotwatch-collector", "test-admin"}) {
		t.Fatalf("clients left %v", got)
	}
	wide, err := svc.PreviewRedis(context.Background(), RedisFilter{Name: "*"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, x := range wide.Excluded {
		reasons = append(reasons, x.Client.Name+": "+x.Reason)
	}
	if len(reasons) != 2 || !strings.Contains(strings.Join(reasons, "\n"), "own connection") || !strings.Contains(strings.Join(reasons, "\n"), "protected client name") {
		t.Fatalf("exclusions %q", reasons)
	}
}

func (f *redisFixture) testByLib(t *testing.T) {
	defer f.closeAll(t)
	py := f.client(t, "127.0.0.1", "py")
	f.client(t, "127.0.0.1", "other")
	svc, rc, _ := f.service(t, DefaultPolicy())
	if !versionAtLeast(rc.version(""), 7, 2) {
		// lib-name exists from Redis 7.2: on older servers the filter must
		// match nobody rather than everybody.
		report := kill(t, svc, RedisFilter{Lib: "redis-py"})
		if len(report.Results) != 0 || len(f.names(t)) != 4 {
			t.Fatalf("lib filter on Redis %s killed %+v", rc.version(""), report.Results)
		}
		return
	}
	send(t, py, "CLIENT SETINFO LIB-NAME redis-py")
	report := kill(t, svc, RedisFilter{Lib: "redis-*"})
	if c := Counts(report.Results); c[Done] != 1 {
		t.Fatalf("results %+v", report.Results)
	}
	if got := f.names(t); !slices.Equal(got, []string{"other", "slotwatch", "test-admin"}) {
		t.Fatalf("clients left %v", got)
	}
}

func (f *redisFixture) testIdleAndAge(t *testing.T) {
	defer f.closeAll(t)
	f.client(t, "127.0.0.1", "leak-1")
	f.client(t, "127.0.0.1", "leak-2")
	busy := f.client(t, "127.0.0.1", "busy")
	turns := f.client(t, "127.0.0.1", "turns-busy")
	time.Sleep(2100 * time.Millisecond)
	send(t, busy, "PING")
	f.admin.Ping(context.Background())
	f.client(t, "127.0.0.1", "fresh")
	svc, _, path := f.service(t, DefaultPolicy())

	plan, err := svc.PreviewRedis(context.Background(), RedisFilter{IdleOver: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 3 { // leak-1, leak-2, turns-busy
		t.Fatalf("idle targets %+v", plan.Targets)
	}
	send(t, turns, "PING") // active after the preview: must survive
	report, err := svc.ExecuteRedis(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	c := Counts(report.Results)
	if c[Done] != 2 || c[Skipped] != 1 {
		t.Fatalf("results %+v, want 2 done and turns-busy skipped", report.Results)
	}
	if got := f.names(t); !slices.Equal(got, []string{"busy", "fresh", "slotwatch", "test-admin", "turns-busy"}) {
		t.Fatalf("clients left %v", got)
	}
	es := readAudit(t, path)
	if res := es[len(es)-1]; len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, "idle 0s now") {
		t.Fatalf("audit %+v", res)
	}

	report = kill(t, svc, RedisFilter{AgeOver: time.Second, Name: "*busy"})
	if c := Counts(report.Results); c[Done] != 2 {
		t.Fatalf("age results %+v", report.Results)
	}
	if got := f.names(t); !slices.Equal(got, []string{"fresh", "slotwatch", "test-admin"}) {
		t.Fatalf("clients left %v", got)
	}
}

func (f *redisFixture) testOwnAndReadOnly(t *testing.T) {
	defer f.closeAll(t)
	f.client(t, "127.0.0.1", "victim")
	svc, rc, _ := f.service(t, DefaultPolicy())
	plan, err := svc.PreviewRedis(context.Background(), RedisFilter{IDs: []int64{rc.OwnID()}})
	if err != nil || len(plan.Targets) != 0 || len(plan.Excluded) != 1 {
		t.Fatalf("own: %+v %v", plan, err)
	}
	if _, err := svc.PreviewRedis(context.Background(), RedisFilter{}); !IsRefused(err) {
		t.Fatalf("empty filter err = %v, want refused", err)
	}
	policy := DefaultPolicy()
	policy.ReadOnly = true
	ro, _, path := f.service(t, policy)
	if _, err := ro.PreviewRedis(context.Background(), RedisFilter{Name: "victim"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only err = %v", err)
	}
	if _, err := ro.ExecuteRedis(context.Background(), RedisPlan{Server: rc.Server(), Targets: []collectors.RedisClient{{ID: f.clientID(t, "victim")}}}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only err = %v", err)
	}
	if !slices.Contains(f.names(t), "victim") {
		t.Fatal("read-only killed a client")
	}
	if es := readAudit(t, path); len(es) != 2 || es[1].Phase != PhaseRefused {
		t.Fatalf("audit %+v", es)
	}
}
