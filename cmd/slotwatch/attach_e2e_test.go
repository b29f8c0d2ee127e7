package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/promtest"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestAttachActDetach: a fleet-only console (fleet.prometheus and
// fleet.live from a config file, wired as watch wires it) over a real
// Prometheus scraping the real postgres_exporter of three throwaway
// PostgreSQL servers attaches one instance: its live numbers are the
// server's own, a terminate on its live name ends exactly its sessions,
// and once detached the server has no slotwatch backend left and an
// action on the name is refused.
func TestAttachActDetach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three PostgreSQL servers, their exporters and Prometheus")
	}
	template := testserver.InitTemplate(t, "")
	var pgs []*testserver.Postgres
	var targets []promtest.LabeledTarget
	for i := range 3 {
		p := testserver.StartPostgres(t, testserver.PGOptions{Template: template, MaxConnections: 20 + 5*i,
			Settings: map[string]string{"shared_buffers": "8MB", "max_wal_senders": "0", "autovacuum": "off"}})
		e := testserver.StartPostgresExporter(t, p.DSN)
		pgs = append(pgs, p)
		targets = append(targets, promtest.LabeledTarget{Addr: e.Addr, Labels: map[string]string{"host": p.Host, "port": strconv.Itoa(p.Port)}})
	}
	prom := promtest.StartPrometheus(t, promtest.PrometheusConfig{Jobs: []promtest.ScrapeJob{{Name: "postgres", Targets: targets}}})
	burning := pgs[1]
	holdPG(t, burning, "web-burning", 4)
	holdPG(t, pgs[2], "web-other", 2)

	u, err := url.Parse(burning.DSN)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("fleet:\n  prometheus: %s\n  interval: 1s\n  max_live: 2\n  live:\n    postgres: \"postgres://%s@{{.host}}:{{.port}}/postgres?sslmode=disable\"\nprobe:\n  interval: 0s\njobs:\n  disabled: true\n",
		prom.URL, u.User.Username())
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, s, set, box := startFromConfig(t, config, dir)
	if set.MaxLive() != 2 {
		t.Fatalf("max_live from the file: %d", set.MaxLive())
	}
	audit, err := actions.OpenAuditLog(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	fleet, err := actionFleet(set, s.policy(), audit, actions.Operator{User: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var snap collectors.Snapshot
	next := func() collectors.Snapshot {
		select {
		case <-box.Ready():
		case <-time.After(time.Second):
		}
		if got, ok := box.Take(); ok {
			snap = got
		}
		return snap
	}

	// The burning server's instance, as Prometheus lists it.
	var inst collectors.FleetInstance
	waitFor(t, "Prometheus to list the three servers up", func() bool {
		f := next().PromFleet
		if f == nil || len(f.Instances) != 3 {
			return false
		}
		for _, in := range f.Instances {
			if in.State != collectors.FleetUp {
				return false
			}
			if in.Labels["port"] == strconv.Itoa(burning.Port) {
				inst = in
			}
		}
		return inst.Key != ""
	})
	info, err := set.Attach(ctx, inst)
	want := fmt.Sprintf("live:%s:%d", burning.Host, burning.Port)
	if err != nil || info.Name != want {
		t.Fatalf("attach: %+v, %v; want %s", info, err, want)
	}
	// Its live numbers equal the server's own: every client backend (the
	// exporter's and this admin connection too) but slotwatch's own.
	admin := superConn(t, ctx, burning)
	var live *collectors.PGStats
	var clients, maxConn int
	waitFor(t, "the attached server's numbers to equal the server's own", func() bool {
		i := slices.IndexFunc(next().Servers, func(sv collectors.ServerSnapshot) bool { return sv.Name == want })
		if i < 0 || snap.Servers[i].Primary || snap.Servers[i].Postgres == nil {
			return false
		}
		live = snap.Servers[i].Postgres
		if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE backend_type = 'client backend' AND application_name NOT LIKE 'slotwatch%'),
			current_setting('max_connections')::int FROM pg_stat_activity`).Scan(&clients, &maxConn); err != nil {
			t.Fatal(err)
		}
		return live.Total == clients && clients >= 5
	})
	if live.MaxConnections != maxConn || live.MaxConnections != int(inst.Max.V) || live.OwnConnections != 1 {
		t.Fatalf("live %d/%d (own %d), the server's own %d/%d, Prometheus's max %v", live.Total, live.MaxConnections, live.OwnConnections, clients, maxConn, inst.Max)
	}
	if n := slotwatchBackends(t, admin); n != 1 {
		t.Fatalf("attached: %d slotwatch backends on the server, want its one connection", n)
	}

	plan, err := actions.PreviewAs[actions.SessionPlan](ctx, fleet, actions.SessionRequest{Server: want, Kind: actions.Terminate, Filter: actions.SessionFilter{App: "web-burning"}})
	if err != nil || len(plan.Targets) != 4 || plan.ServerName != want {
		t.Fatalf("preview on %s: %v targets on %q, %v", want, plan.PIDs(), plan.ServerName, err)
	}
	if rep, err := actions.ExecuteAs[actions.SessionReport](ctx, fleet, plan); err != nil || actions.Counts(rep.Results)[actions.Done] != 4 {
		t.Fatalf("terminate on %s: %+v, %v", want, rep.Results, err)
	}
	if n, other := countApp(t, burning, "web-burning"), countApp(t, pgs[2], "web-other"); n != 0 || other != 2 {
		t.Fatalf("after the terminate: %d sessions left on the attached server, %d on the other (want 0 and 2)", n, other)
	}
	if n := slotwatchBackends(t, admin); n != 1 {
		t.Fatalf("the action opened a connection of its own: %d slotwatch backends", n)
	}

	if err := set.Detach(ctx, want); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to have no slotwatch backend", func() bool { return slotwatchBackends(t, admin) == 0 })
	waitFor(t, "the snapshot to drop the detached server", func() bool {
		return !slices.ContainsFunc(next().Servers, func(sv collectors.ServerSnapshot) bool { return sv.Name == want })
	})
	_, err = fleet.Preview(ctx, actions.SessionRequest{Server: want, Kind: actions.Terminate, Filter: actions.SessionFilter{App: "web-burning"}})
	var refused *actions.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "configured or attached") {
		t.Fatalf("an action on the detached server: %v, want a refusal", err)
	}
	// The plan previewed while attached is refused too.
	if _, err := fleet.Execute(ctx, plan); !errors.As(err, &refused) {
		t.Fatalf("executing a plan of the detached server: %v, want a refusal", err)
	}
}
