package actions

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDialErrorsNeverShowThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := closedPort(t)
	for name, dial := range map[string]func() error{
		"postgres": func() error {
			_, err := DialPostgres(ctx, "postgres://app:Sup3rSecret@"+addr+"/db?sslmode=disable")
			return err
		},
		"postgres bad dsn": func() error {
			_, err := DialPostgres(ctx, "postgres://app:Sup3rSecret@"+addr+"/db?sslmode=bogus")
			return err
		},
		"redis": func() error {
			_, err := DialRedis(ctx, "redis://:Sup3rSecret@"+addr+"/0")
			return err
		},
		"redis bad url": func() error {
			_, err := DialRedis(ctx, "redis://:Sup3rSecret@"+addr+"/notadb")
			return err
		},
		"redis bad url, encoded password": func() error {
			_, err := DialRedis(ctx, "redis://:Sup3r%23Secret@"+addr+"/notadb")
			return err
		},
		"redis cluster": func() error {
			_, err := DialRedisCluster(ctx, "redis://:Sup3rSecret@"+addr)
			return err
		},
	} {
		err := dial()
		if err == nil {
			t.Fatalf("%s: dial to a closed port succeeded", name)
		}
		if strings.Contains(err.Error(), "Secret") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
}
