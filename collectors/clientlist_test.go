package collectors

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A reply as Redis 7.4 writes it: every line ends in \n, names may contain
// '=', values may be empty, IPv6 and unix-socket addresses.
const sampleClientList = "id=3 addr=10.0.0.7:52144 laddr=10.0.0.2:6379 fd=8 name=cache-17 age=120 idle=7 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1928 events=r cmd=get user=default redir=-1 resp=2 lib-name=redis-py lib-ver=5.0.1\n" +
	"id=4 addr=[::1]:40000 fd=9 name=a=b=c age=5 idle=5 flags=N db=2 cmd=client|list lib-name= events=\n" +
	"id=5 addr=/run/redis/redis.sock:0 fd=10 name= age=300 idle=299 flags=U db=0 cmd=NULL future-field=x=1\n"

func TestParseClientListKeepsEveryKindOfLine(t *testing.T) {
	clients, err := ParseClientList(sampleClientList)
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 3 {
		t.Fatalf("parsed %d clients, want 3", len(clients))
	}
	c := clients[0]
	if c.ID != 3 || c.Addr != "10.0.0.7:52144" || c.Name != "cache-17" || c.LibName != "redis-py" ||
		c.AgeSeconds != 120 || c.IdleSeconds != 7 || c.DB != 0 || c.Cmd != "get" || c.Flags != "N" {
		t.Errorf("first client parsed wrong: %+v", c)
	}
	if v, ok := c.Field("tot-mem"); !ok || v != "1928" {
		t.Errorf("Field(tot-mem) = %q, %v; want 1928", v, ok)
	}
	if v, ok := c.Field("lib-ver"); !ok || v != "5.0.1" {
		t.Errorf("Field(lib-ver) = %q, %v; want 5.0.1", v, ok)
	}
	if c.Host() != "10.0.0.7" {
		t.Errorf("Host = %q, want 10.0.0.7", c.Host())
	}
	v6 := clients[1]
	if v6.Name != "a=b=c" || v6.Host() != "::1" || v6.DB != 2 || v6.Cmd != "client|list" || v6.LibName != "" {
		t.Errorf("IPv6 client parsed wrong: %+v host %q", v6, v6.Host())
	}
	if v, ok := v6.Field("events"); !ok || v != "" {
		t.Errorf("empty field events = %q, %v; want present and empty", v, ok)
	}
	unix := clients[2]
	if unix.Host() != "/run/redis/redis.sock" || unix.Name != "" || unix.Cmd != "NULL" {
		t.Errorf("unix-socket client parsed wrong: %+v host %q", unix, unix.Host())
	}
	if v, ok := unix.Field("future-field"); !ok || v != "x=1" {
		t.Errorf("unknown field = %q, %v; want x=1", v, ok)
	}
	if _, ok := unix.Field("lib-name"); ok {
		t.Error("a field missing from the line must not be found")
	}
	if unix.Raw != strings.Split(sampleClientList, "\n")[2] {
		t.Errorf("Raw = %q, want the whole line", unix.Raw)
	}
}

func TestParseClientListToleratesOldAndOddReplies(t *testing.T) {
	// Redis 2.8: no id before 2.8.12, no lib-name; a CRLF; no final newline.
	clients, err := ParseClientList("addr=127.0.0.1:1 fd=5 idle=0 flags=N db=0 sub=0\r\nid=9 addr=127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 2 || clients[0].ID != 0 || clients[0].Flags != "N" || clients[1].ID != 9 || clients[1].Addr != "127.0.0.1:2" {
		t.Fatalf("parsed %+v", clients)
	}
	// Redis 2.6: no id nor name before db, so the line is read pair by pair.
	old, err := ParseClientList("addr=127.0.0.1:3 fd=5 age=3 idle=0 flags=N db=1 sub=0 multi=-1 cmd=get\n")
	if err != nil || len(old) != 1 || old[0].Cmd != "get" || old[0].DB != 1 || old[0].AgeSeconds != 3 {
		t.Fatalf("Redis 2.6 line parsed as %+v, %v", old, err)
	}
	if clients, err := ParseClientList(""); err != nil || len(clients) != 0 {
		t.Fatalf("empty reply: %v, %v; want no clients and no error", clients, err)
	}
}

func TestParseClientListRejectsGarbageWithTheLine(t *testing.T) {
	for _, reply := range []string{
		"id=1 addr=1.2.3.4:5\nthis is not client list\n",
		"id=1 addr=1.2.3.4:5\nid=x addr=1.2.3.4:6\n",
		"id=1 idle=-\n",
	} {
		_, err := ParseClientList(reply)
		if err == nil {
			t.Errorf("ParseClientList(%q) accepted garbage", reply)
			continue
		}
		if !strings.Contains(err.Error(), "line ") {
			t.Errorf("error %q does not say which line", err)
		}
	}
}

func TestFoldNameAndGroups(t *testing.T) {
	for in, want := range map[string]string{
		"cache-17": "cache-#", "cache-18": "cache-#", "w1-t22x": "w#-t#x", "plain": "plain", "": "", "123": "#",
	} {
		if got := FoldName(in); got != want {
			t.Errorf("FoldName(%q) = %q, want %q", in, got, want)
		}
	}
	clients := []RedisClient{
		{Addr: "10.0.0.7:1", Name: "cache-17", LibName: "redis-py", AgeSeconds: 10, IdleSeconds: 3},
		{Addr: "10.0.0.7:2", Name: "cache-18", LibName: "redis-py", AgeSeconds: 50, IdleSeconds: 1},
		{Addr: "10.0.0.7:3", Name: "cache-19", LibName: "redis-py", AgeSeconds: 5, IdleSeconds: 9},
		{Addr: "10.0.0.8:1", Name: "cache-20", LibName: "redis-py", AgeSeconds: 1},
		{Addr: "[::1]:1", Name: "", LibName: "go-redis"},
	}
	groups := GroupRedisClients(clients)
	want := []RedisGroup{
		{Host: "10.0.0.7", Name: "cache-#", LibName: "redis-py", Count: 3, MaxIdleSeconds: 9, OldestAgeSeconds: 50},
		{Host: "10.0.0.8", Name: "cache-#", LibName: "redis-py", Count: 1, OldestAgeSeconds: 1},
		{Host: "::1", Name: "", LibName: "go-redis", Count: 1},
	}
	if fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Fatalf("groups =\n%+v\nwant\n%+v", groups, want)
	}
	if g := GroupRedisClients(nil); g == nil || len(g) != 0 {
		t.Fatalf("no clients must give an empty, non-nil group list, got %#v", g)
	}
}

func TestClientListEveryGrowsWithClients(t *testing.T) {
	base := time.Second
	for _, tc := range []struct {
		clients int64
		want    time.Duration
	}{{0, base}, {900, base}, {1000, base}, {1001, 2 * base}, {5000, 5 * base}, {100000, 30 * time.Second}} {
		if got := ClientListEvery(tc.clients, base); got != tc.want {
			t.Errorf("ClientListEvery(%d) = %v, want %v", tc.clients, got, tc.want)
		}
	}
	if got := ClientListEvery(100000, time.Minute); got != time.Minute {
		t.Errorf("the CLIENT LIST interval must never be shorter than INFO's: got %v", got)
	}
}

func FuzzParseClientList(f *testing.F) {
	f.Add(sampleClientList)
	f.Add("id=1 addr=1.2.3.4:5 name= age=0\n\n")
	f.Add("addr=[fe80::1%eth0]:6379 name=x=y\r\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, reply string) {
		clients, err := ParseClientList(reply)
		if err != nil {
			return
		}
		lines := 0
		for line := range strings.Lines(reply) {
			if strings.TrimRight(line, "\r\n") != "" {
				lines++
			}
		}
		if len(clients) != lines {
			t.Fatalf("%d clients from %d non-empty lines", len(clients), lines)
		}
		for i := range clients {
			c := &clients[i]
			if !strings.Contains(reply, c.Raw) || c.Raw == "" {
				t.Fatalf("Raw %q is not a line of the reply", c.Raw)
			}
			if _, ok := c.Field("addr"); c.Addr != "" && !ok {
				t.Fatalf("Addr %q parsed from a line without an addr field: %q", c.Addr, c.Raw)
			}
			_ = c.Host()
		}
		GroupRedisClients(clients)
	})
}

// syntheticClientList builds a Redis 7.4-style reply of n clients.
func syntheticClientList(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "id=%d addr=10.0.%d.%d:%d laddr=10.0.0.2:6379 fd=%d name=analytics-%d age=%d idle=%d flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1928 events=r cmd=get user=default redir=-1 resp=2 lib-name=redis-py lib-ver=5.0.1\n",
			i+3, i/250, i%250, 40000+i%20000, i+8, i%40, i%3600, i%600)
	}
	return b.String()
}

func BenchmarkParseClientList10000(b *testing.B) {
	reply := syntheticClientList(10000)
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		clients, err := ParseClientList(reply)
		if err != nil || len(clients) != 10000 {
			b.Fatalf("parsed %d clients: %v", len(clients), err)
		}
	}
}

func BenchmarkGroupRedisClients10000(b *testing.B) {
	clients, err := ParseClientList(syntheticClientList(10000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		GroupRedisClients(clients)
	}
}
