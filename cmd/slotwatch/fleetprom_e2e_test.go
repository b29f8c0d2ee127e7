package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/promtest"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestSnapshotReadsTheFleetFromPrometheus: `snapshot --json
// --fleet-prometheus URL` alone is a valid command; it reads a real
// Prometheus scraping the real exporters, the flag overrides the config
// file's URL, and a malformed URL is one sentence and exit 2.
func TestSnapshotReadsTheFleetFromPrometheus(t *testing.T) {
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 37})
	pgExp := testserver.StartPostgresExporter(t, pg.DSN)
	r := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 77})
	rExp := testserver.StartRedisExporter(t, r.Addr)
	prom := promtest.StartPrometheus(t, promtest.PrometheusConfig{Jobs: []promtest.ScrapeJob{
		{Name: "postgres", Targets: []promtest.LabeledTarget{{Addr: pgExp.Addr, Labels: map[string]string{"cluster": "eu-1"}}}},
		{Name: "redis", Targets: []promtest.LabeledTarget{{Addr: rExp.Addr, Labels: map[string]string{"cluster": "eu-1"}}}},
	}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		up, err := prom.Query(context.Background(), `pg_up == 1 or redis_up == 1`)
		if err == nil && len(up) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never scraped both exporters: %v %v", up, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("fleet:\n  prometheus: http://127.0.0.1:1\n  group_by: [cluster]\n  interval: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := snapRun(t, "snapshot", "--json", "--config", cfg, "--fleet-prometheus", prom.URL)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var snap struct {
		Fleet struct {
			Prometheus string   `json:"prometheus"`
			GroupBy    []string `json:"group_by"`
			Queries    int      `json:"queries"`
			Instances  []struct {
				Kind   string            `json:"kind"`
				State  string            `json:"state"`
				Labels map[string]string `json:"labels"`
				Max    *float64          `json:"max"`
				Used   *float64          `json:"used"`
			} `json:"instances"`
		} `json:"fleet_prometheus"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	f := snap.Fleet
	if f.Prometheus != prom.Addr || len(f.GroupBy) != 1 || f.GroupBy[0] != "cluster" || f.Queries != 4 || len(f.Instances) != 2 {
		t.Fatalf("fleet %+v, errors %v", f, snap.Errors)
	}
	want := map[string]float64{"postgres": 37, "redis": 77}
	for _, in := range f.Instances {
		if in.State != "up" || in.Labels["cluster"] != "eu-1" || in.Max == nil || *in.Max != want[in.Kind] || in.Used == nil {
			t.Errorf("%s: %+v", in.Kind, in)
		}
	}

	code, _, stderr = snapRun(t, "snapshot", "--json", "--fleet-prometheus", "prometheus:9090")
	if code != exitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "fleet.prometheus") {
		t.Errorf("a malformed URL: exit %d, %q", code, stderr)
	}
}
