package metrics

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/promtest"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

type dashboard struct {
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("../deploy/grafana/slotwatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("deploy/grafana/slotwatch.json is not valid JSON: %v", err)
	}
	return d
}

func TestDashboardStructure(t *testing.T) {
	d := readDashboard(t)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("the dashboard has no datasource variable: %v", vars)
	}
	if len(d.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for i, p := range d.Panels {
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel %d has no title", i)
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q's datasource is %q, want the ${datasource} variable", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}

// TestDashboardQueriesReturnSeries runs every panel's query against a real
// Prometheus that scraped slotwatch over real servers with sessions,
// Redis clients and a pgbouncer client, and wants series from each.
func TestDashboardQueriesReturnSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis, pgbouncer and Prometheus")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 100})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	pg.Psql(t, "postgres", "CREATE DATABASE talentflow OWNER app")
	bouncer := testserver.StartPgBouncer(t, pg, testserver.PgBouncerOptions{Users: []string{"app"}})
	rig := startSlotwatch(t, ctx, collectors.Config{
		PG:        &collectors.PGConfig{DSN: pg.DSN, Interval: 500 * time.Millisecond},
		Probe:     &collectors.ProbeConfig{DSN: pg.DSNFor("app", "talentflow"), Interval: time.Second},
		Redis:     &collectors.RedisConfig{URL: rds.URL, Interval: 500 * time.Millisecond},
		PgBouncer: &collectors.PgBouncerConfig{DSN: bouncer.AdminDSN, Interval: 500 * time.Millisecond},
	})
	holdSessions(t, ctx, pg, "talentflow-web", "idle", 3)
	holdSessions(t, ctx, pg, "worker", "idle in transaction", 1)
	holdRedisClients(t, ctx, rds.Addr, "sidekiq", 3)
	viaBouncer := connectRetrying(t, ctx, bouncer.DSNFor("app"))
	defer viaBouncer.Close(context.Background())
	if _, err := viaBouncer.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	prom := promtest.StartPrometheus(t, promtest.PrometheusConfig{Targets: []string{rig.addr}})

	vars := strings.NewReplacer("$job", "slotwatch", "$instance", rig.addr, "$__rate_interval", "1m")
	for _, p := range readDashboard(t).Panels {
		for _, target := range p.Targets {
			q := vars.Replace(target.Expr)
			eventually(t, ctx, "panel "+p.Title, func() string {
				s, err := prom.Query(ctx, q)
				if err != nil {
					return err.Error()
				}
				if len(s) == 0 {
					return q + " returned no series"
				}
				return ""
			})
		}
	}
}
