package collectors

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// redisConn is a raw client held open by a test, speaking inline commands.
type redisConn struct {
	net.Conn
	rd *bufio.Reader
}

func dialRedis(network, addr string) (*redisConn, error) {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &redisConn{Conn: c, rd: bufio.NewReader(c)}, nil
}

// do sends one inline command and returns the first reply line (a bulk
// reply's payload is returned whole).
func (c *redisConn) do(cmd string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		return "", err
	}
	line, err := c.rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, _ := strconv.Atoi(line[1:])
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(c.rd, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// holdRedis opens n clients named fmt.Sprintf(nameFormat, i) (no name when
// nameFormat is empty), each confirmed by the server, closed at cleanup.
func holdRedis(t *testing.T, network, addr, nameFormat string, n int) []*redisConn {
	t.Helper()
	conns := make([]*redisConn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := dialRedis(network, addr)
		if err != nil {
			t.Fatalf("open client %d: %v", i, err)
		}
		conns = append(conns, c)
		cmd := "PING"
		if nameFormat != "" {
			cmd = "CLIENT SETNAME " + fmt.Sprintf(nameFormat, i)
		}
		if reply, err := c.do(cmd); err != nil || !strings.HasPrefix(reply, "+") {
			t.Fatalf("client %d: %q, %v", i, reply, err)
		}
	}
	return conns
}

func TestRedis(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "redis.sock")
	r := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 400, Args: []string{"--unixsocket", sock, "--unixsocketperm", "700"}})
	t.Run("counts and groups of held clients", func(t *testing.T) { testRedisGroups(t, r, sock) })
	t.Run("keeps working at maxclients and counts rejections", testRedisAtMaxClients)
	t.Run("reads CLIENT LIST less often with thousands of clients", testRedisAdaptiveList)
	t.Run("unreachable server, bad URL and wrong password", testRedisErrors)
	t.Run("a user without CLIENT LIST still gets the counts", func(t *testing.T) { testRedisWithoutClientList(t, r) })
}

func testRedisGroups(t *testing.T, r *testserver.Redis, sock string) {
	holdRedis(t, "tcp", r.Addr, "analytics-%d", 200)
	holdRedis(t, "tcp", r.Addr, "", 79)
	holdRedis(t, "unix", sock, "worker-%d", 20)
	blocker := holdRedis(t, "tcp", r.Addr, "", 1)[0]
	if _, err := fmt.Fprint(blocker, "BLPOP never-pushed 0\r\n"); err != nil {
		t.Fatal(err)
	}

	s := collectUntil(t, Config{Redis: &RedisConfig{URL: r.URL}}, func(s Snapshot) bool {
		return s.Redis != nil && s.Redis.BlockedClients == 1
	})
	rs := s.Redis
	if len(s.Errors) != 0 || rs.ConnectedClients != 301 || rs.MaxClients != 400 || len(rs.Clients) != 300 || rs.ServerVersion == "" {
		t.Fatalf("connected %d of %d, %d clients listed, version %q, errors %v; want 301 (300 held + slotwatch) of 400 and 300 listed",
			rs.ConnectedClients, rs.MaxClients, len(rs.Clients), rs.ServerVersion, s.Errors)
	}
	if rs.TotalConnectionsReceived < 301 || rs.ClientListEverySeconds != 1 || rs.ClientsSampledAt.IsZero() {
		t.Errorf("received %d, CLIENT LIST every %v s, listed at %v", rs.TotalConnectionsReceived, rs.ClientListEverySeconds, rs.ClientsSampledAt)
	}
	want := []RedisGroup{
		{Host: "127.0.0.1", Name: "analytics-#", Count: 200},
		{Host: "127.0.0.1", Name: "", Count: 80},
		{Host: sock, Name: "worker-#", Count: 20},
	}
	if len(rs.Groups) != len(want) {
		t.Fatalf("groups = %+v, want %+v", rs.Groups, want)
	}
	for i, w := range want {
		g := rs.Groups[i]
		if g.Host != w.Host || g.Name != w.Name || g.Count != w.Count || g.LibName != "" {
			t.Errorf("group %d = %+v, want %+v", i, g, w)
		}
	}
	// The clients are exactly those CLIENT LIST shows, less the verifying
	// connection itself.
	check := holdRedis(t, "tcp", r.Addr, "", 1)[0]
	ownID, _ := check.do("CLIENT ID")
	reply, err := check.do("CLIENT LIST")
	if err != nil {
		t.Fatal(err)
	}
	var listed []int64
	for line := range strings.Lines(reply) {
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
		if ":"+id != ownID {
			n, _ := strconv.ParseInt(id, 10, 64)
			listed = append(listed, n)
		}
	}
	var collected []int64
	for _, c := range rs.Clients {
		collected = append(collected, c.ID)
	}
	slices.Sort(listed)
	slices.Sort(collected)
	if !slices.Equal(listed, collected) {
		t.Errorf("collected %d client ids, CLIENT LIST shows %d others", len(collected), len(listed))
	}
}

func testRedisAtMaxClients(t *testing.T) {
	r := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mb := NewMailbox()
	if _, err := Start(ctx, Config{Redis: &RedisConfig{URL: r.URL, Interval: 50 * time.Millisecond}}, mb); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis != nil && len(s.Errors) == 0 })
	holdRedis(t, "tcp", r.Addr, "leak-%d", 19)
	extra, err := dialRedis("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if reply, _ := extra.do("PING"); !strings.Contains(reply, "max number of clients reached") {
		t.Fatalf("the 21st client got %q, want a refusal", reply)
	}
	refusedAt := time.Now()
	// INFO is read every tick, CLIENT LIST on most: wait for both after the refusal.
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Redis != nil && s.Redis.RejectedConnections >= 1 && s.Redis.ClientsSampledAt.After(refusedAt)
	})
	if len(s.Errors) != 0 || s.Redis.ConnectedClients != 20 || len(s.Redis.Groups) != 1 || s.Redis.Groups[0].Count != 19 {
		t.Errorf("at maxclients: errors %v, connected %d, groups %+v; want the collector still reading 20 clients, 19 leaked",
			s.Errors, s.Redis.ConnectedClients, s.Redis.Groups)
	}
	fresh := CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: r.URL}})
	if msg := fresh.Errors[SourceRedis]; !strings.Contains(msg, "maxclients") {
		t.Errorf("a new collector at maxclients reported %q", msg)
	}
}

func testRedisErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: "redis://:S3cretPW@" + addr + "/0"}})
	msg := s.Errors[SourceRedis]
	if !strings.Contains(msg, "Redis at "+addr+"/0") || !strings.Contains(msg, "connection refused") {
		t.Errorf("unreachable Redis gave %q", msg)
	}
	if s.Redis != nil {
		t.Errorf("a source that never answered has no data, only its error: %+v", s.Redis)
	}

	secured := testserver.StartRedis(t, testserver.RedisOptions{Args: []string{"--requirepass", "Right0ne"}})
	s = CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: "redis://:S3cretPW@" + secured.Addr + "/0"}})
	if msg := s.Errors[SourceRedis]; !strings.Contains(msg, "WRONGPASS") && !strings.Contains(msg, "invalid password") {
		t.Errorf("a wrong password gave %q", msg)
	}
	out, _ := json.Marshal(s)
	if strings.Contains(string(out), "S3cretPW") {
		t.Errorf("the password leaked: %s", out)
	}
	s = CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: "redis://:Right0ne@" + secured.Addr + "/0"}})
	// connected_clients may still count the refused connection, which the
	// server closes a moment later.
	if len(s.Errors) != 0 || s.Redis == nil || s.Redis.OwnConnections != 1 || s.Redis.ConnectedClients < 1 {
		t.Errorf("the right password: errors %v, stats %+v", s.Errors, s.Redis)
	}

	for _, bad := range []string{"redis://:S3cretPW@127.0.0.1:notaport/0", "ftp://user:S3cretPW@host/"} {
		err := Config{Redis: &RedisConfig{URL: bad}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "is not valid") || strings.Contains(err.Error(), "S3cretPW") {
			t.Errorf("Validate(%q) = %v; want a clear error without the password", RedactURL(bad), err)
		}
	}
}

func testRedisAdaptiveList(t *testing.T) {
	r := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 2000})
	holdRedis(t, "tcp", r.Addr, "", 1500)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mb := NewMailbox()
	interval := 100 * time.Millisecond
	if _, err := Start(ctx, Config{Redis: &RedisConfig{URL: r.URL, Interval: interval}}, mb); err != nil {
		t.Fatal(err)
	}
	first := waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis != nil && len(s.Redis.Clients) == 1500 })
	if first.Redis.ClientListEverySeconds != 0.2 {
		t.Errorf("with 1,501 clients CLIENT LIST every %v s, want 0.2 (twice the INFO interval)", first.Redis.ClientListEverySeconds)
	}
	// An INFO-only tick keeps the previous list; a later tick reads it again.
	reused := waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis.ClientsSampledAt.Before(s.Redis.SampledAt) })
	if len(reused.Redis.Clients) != 1500 || reused.Redis.ClientsSampledAt.Before(first.Redis.ClientsSampledAt) {
		t.Errorf("an INFO-only tick must keep the last CLIENT LIST (%d clients, listed at %v)", len(reused.Redis.Clients), reused.Redis.ClientsSampledAt)
	}
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis.ClientsSampledAt.After(first.Redis.ClientsSampledAt) })
}

func testRedisWithoutClientList(t *testing.T, r *testserver.Redis) {
	admin := holdRedis(t, "tcp", r.Addr, "", 1)[0]
	if reply, err := admin.do("ACL SETUSER mon on >monpw ~* +@all -client|list -client|id"); err != nil || reply != "+OK" {
		t.Fatalf("ACL SETUSER: %q, %v", reply, err)
	}
	s := CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: "redis://mon:monpw@" + r.Addr + "/0"}})
	msg := s.Errors[SourceRedis]
	if !strings.Contains(msg, "refused CLIENT LIST") || !strings.Contains(msg, "NOPERM") || strings.Contains(msg, "monpw") {
		t.Errorf("error = %q, want the refusal of CLIENT LIST explained", msg)
	}
	if s.Redis == nil || s.Redis.ConnectedClients != 2 || s.Redis.LastGoodAt.IsZero() {
		t.Errorf("INFO answered, so its counts must be there: %+v", s.Redis)
	}
}

func TestRedissAgainstPlaintext(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t, testserver.RedisOptions{})
	start := time.Now()
	s := CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: "rediss://" + r.Addr + "/0", Timeout: 500 * time.Millisecond}})
	t.Logf("rediss:// against plaintext failed after %v", time.Since(start))
	if msg := s.Errors[SourceRedis]; !strings.Contains(msg, "no TLS handshake with Redis at "+r.Addr+"/0 within 500ms") || !strings.Contains(msg, "use redis://") {
		t.Errorf("rediss:// against a plaintext Redis gave %q; want the TLS handshake named", msg)
	}
}
