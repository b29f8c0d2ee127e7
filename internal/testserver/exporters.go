package testserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Exporter is a running real Prometheus exporter (the Debian
// prometheus-postgres-exporter or prometheus-redis-exporter) on a free
// loopback port.
type Exporter struct {
	Addr       string // 127.0.0.1:port
	MetricsURL string // http://127.0.0.1:port/metrics
	Dir        string // holds exporter.log
}

// StartPostgresExporter runs the installed postgres_exporter against dsn
// with its default collectors; it is stopped at cleanup. Its database/sql
// pool keeps one connection to the server open between scrapes (as
// application "" and the DSN's user), which callers comparing connection
// counts must account for.
func StartPostgresExporter(t testing.TB, dsn string) *Exporter {
	t.Helper()
	bin := exporterBinary(t, "prometheus-postgres-exporter")
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return startExporter(t, bin, addr, []string{"DATA_SOURCE_NAME=" + dsn},
		"--web.listen-address="+addr, "--log.level=warn")
}

// StartRedisExporter runs the installed redis_exporter against the Redis at
// addr (host:port) with its config metrics (redis_config_maxclients)
// included; it is stopped at cleanup. It connects once per scrape and
// closes the connection after, so between scrapes it holds no client.
func StartRedisExporter(t testing.TB, redisAddr string) *Exporter {
	t.Helper()
	bin := exporterBinary(t, "prometheus-redis-exporter")
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return startExporter(t, bin, addr, nil, "-redis.addr=redis://"+redisAddr,
		"-web.listen-address="+addr, "-include-config-metrics", "-log-format=txt")
}

func exporterBinary(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s); this test compares slotwatch with the real one", name, name)
	}
	return bin
}

// startExporter starts bin listening on addr with env added to the
// test's environment and waits until its /metrics answers. The Debian packages also ship a
// service; this process is the test's own and is killed at cleanup.
func startExporter(t testing.TB, bin, addr string, env []string, args ...string) *Exporter {
	t.Helper()
	dir := t.TempDir()
	StartLogged(t, dir, "exporter.log", env, bin, args...)
	e := &Exporter{Addr: addr, MetricsURL: "http://" + addr + "/metrics", Dir: dir}
	if err := waitHTTP(e.MetricsURL, 20*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "exporter.log"))
		t.Fatalf("%s: %v; its log:\n%s", filepath.Base(bin), err, log)
	}
	return e
}

func waitHTTP(u string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s", u, within)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartLogged starts bin in dir with env added to the test's environment,
// its output in dir/logName, and kills it at cleanup.
func StartLogged(t testing.TB, dir, logName string, env []string, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
}
