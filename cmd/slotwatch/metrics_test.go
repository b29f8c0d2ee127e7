package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestRecordServesMetrics runs `slotwatch record --metrics 0` against real
// servers and scrapes the address it prints: the flag wiring, loopback
// binding and the exporter behind the command's own analysis stream.
func TestRecordServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and Redis")
	}
	t.Parallel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 200})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, err := pgx.Connect(ctx, pg.DSN+"&application_name=held-web")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(context.Background())
	var stdout, stderr e2eBuffer
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: envFrom(map[string]string{"HOME": t.TempDir()}).getenv}
	done := make(chan int, 1)
	out := filepath.Join(t.TempDir(), "rec.jsonl.gz")
	go func() {
		done <- run(ctx, env, []string{"record", "--out", out, "--pg", pg.DSN, "--redis", rds.URL, "--metrics", "0"})
	}()
	addrRe := regexp.MustCompile(`Prometheus metrics at (http://127\.0\.0\.1:\d+/metrics)`)
	var body string
	for ctx.Err() == nil && !strings.Contains(body, "held-web") {
		time.Sleep(200 * time.Millisecond)
		m := addrRe.FindStringSubmatch(stderr.String())
		if m == nil {
			continue
		}
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatalf("scrape %s: %v", m[1], err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	for _, want := range []string{"pg_settings_max_connections 30", "redis_config_maxclients 200", `pg_stat_activity_count{application_name="held-web",datname="postgres",state="idle",usename="postgres"} 1`, "slotwatch_pg_slots_used"} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %q; stderr:\n%s", want, stderr.String())
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("record exited %d; stderr:\n%s", code, stderr.String())
	}
}

func TestMetricsFlagRefusesABadAddress(t *testing.T) {
	t.Parallel()
	var stderr e2eBuffer
	env := &environment{stdout: io.Discard, stderr: &stderr, getenv: envFrom(map[string]string{"HOME": t.TempDir()}).getenv}
	code := run(context.Background(), env, []string{"record", "--out", filepath.Join(t.TempDir(), "r.jsonl"),
		"--redis", "redis://127.0.0.1:1/0", "--metrics", "no-port-here"})
	if code != exitError || !strings.Contains(stderr.String(), `the metrics address "no-port-here" is not a port or host:port`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestAlertingConfigSection(t *testing.T) {
	t.Parallel()
	env := envFrom(map[string]string{"HOME": t.TempDir()})
	path := writeConfig(t, "pg: postgres://mon@db/talentflow\ndb: talentflow\nalerting:\n  alertmanager: http://am:9093\n  prometheus: http://prom:9090\n  interval: 30s\n")
	s, err := (&targetFlags{configPath: path}).resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := collectorsConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Alerting
	if a == nil || a.Alertmanager != "http://am:9093" || a.Prometheus != "http://prom:9090" || a.Interval != 30*time.Second ||
		len(a.Databases) != 1 || a.Databases[0] != "talentflow" {
		t.Fatalf("alerting config %+v", a)
	}
	typo := writeConfig(t, "pg: postgres://mon@db/talentflow\nalerting:\n  alertmanagr: http://am:9093\n")
	if _, err := (&targetFlags{configPath: typo}).resolve(env); err == nil || !strings.Contains(err.Error(), "alertmanagr") {
		t.Errorf("a typo in the alerting section should be an error naming it, got %v", err)
	}
	bad := writeConfig(t, "pg: postgres://mon@db/talentflow\nalerting:\n  prometheus: prom:9090\n")
	s, err = (&targetFlags{configPath: bad}).resolve(env)
	if err == nil {
		_, err = collectorsConfig(s)
	}
	if err == nil || !strings.Contains(err.Error(), "alerting.prometheus") {
		t.Errorf("a URL without scheme should be refused naming alerting.prometheus, got %v", err)
	}
	none, err := (&targetFlags{configPath: writeConfig(t, "pg: postgres://mon@db/x\n")}).resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := collectorsConfig(none); cfg.Alerting != nil {
		t.Errorf("no alerting section must configure no alerting source")
	}
}
