package testserver

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

func TestStartPostgresAppliesSettings(t *testing.T) {
	p := StartPostgres(t, PGOptions{MaxConnections: 20, Settings: map[string]string{"idle_session_timeout": "'7min'"}})
	if got := p.Psql(t, "postgres", "SHOW max_connections"); got != "20" {
		t.Fatalf("max_connections = %q, want 20", got)
	}
	if got := p.Psql(t, "postgres", "SHOW idle_session_timeout"); got != "7min" {
		t.Fatalf("idle_session_timeout = %q, want 7min", got)
	}
}

func TestStartRedisAppliesMaxClients(t *testing.T) {
	r := StartRedis(t, RedisOptions{MaxClients: 50})
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("CONFIG GET maxclients\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	var lines []string
	for i := 0; i < 5; i++ {
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimSpace(l))
	}
	if lines[4] != "50" {
		t.Fatalf("CONFIG GET maxclients reply %q, want 50 as the value", lines)
	}
}
