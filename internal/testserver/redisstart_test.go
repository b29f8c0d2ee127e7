package testserver

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestFreeClusterPortLeavesRoomForTheBusPort(t *testing.T) {
	for range 50 {
		port := freeClusterPort(t)
		if port+10000 > 65535 {
			t.Fatalf("port %d has no cluster bus port below 65536", port)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			t.Fatalf("the bus port of %d is taken: %v", port, err)
		}
		l.Close()
	}
}

func TestListensBeforeExitGivesUpWhenTheProcessExits(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	if listensBeforeExit(net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))), exited) {
		t.Fatal("a port nobody listens on was reported listening")
	}
}

func TestStartRedisOnceReportsAServerThatCannotBind(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server", "redis-server")
	}
	// Another process holds the port, as when a parallel test took it
	// between freePort and redis-server's bind.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	r, log, ok := startRedisOnce(t, bin, t.TempDir(), taken, RedisOptions{})
	if ok || r != nil {
		t.Fatalf("a redis-server on the taken port %d was reported started", taken)
	}
	if !strings.Contains(log, strconv.Itoa(taken)) {
		t.Fatalf("the log handed back does not name the port it could not bind:\n%s", log)
	}
}
