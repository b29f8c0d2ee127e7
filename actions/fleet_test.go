package actions

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// pgMember is one PostgreSQL server of the fleet test with its idle "web"
// sessions.
type pgMember struct {
	srv   *testserver.Postgres
	admin *pgx.Conn
	web   []int32
}

func startMember(t *testing.T) *pgMember {
	t.Helper()
	ctx := context.Background()
	m := &pgMember{srv: testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})}
	var err error
	if m.admin, err = pgx.Connect(ctx, m.srv.DSN+"&application_name=test-admin"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.admin.Close(context.Background()) })
	m.srv.Psql(t, "postgres", "CREATE ROLE web LOGIN")
	for range 3 {
		conn, err := pgx.Connect(ctx, m.srv.DSNFor("web", "postgres")+"&application_name=web")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		m.web = append(m.web, int32(conn.PgConn().PID()))
	}
	slices.Sort(m.web)
	return m
}

// alive lists the member's web pids still connected.
func (m *pgMember) alive(t *testing.T) []int32 {
	t.Helper()
	rows, err := m.admin.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE pid = ANY($1) ORDER BY pid", m.web)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (m *pgMember) service(t *testing.T, audit *AuditLog) (*Service, string) {
	t.Helper()
	pg, err := DialPostgres(context.Background(), m.srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close(context.Background()) })
	return NewService(pg, nil, DefaultPolicy(), audit, Operator{User: "kim"}), pg.Server()
}

// TestFleetPostgres: a fleet of two PostgreSQL servers runs a terminate
// previewed on "replica" on the replica only (the primary's sessions with
// the same application survive), names the server in plan and audit,
// refuses unknown names and plans moved to another server, and sends
// requests without a server to the primary.
func TestFleetPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers")
	}
	t.Parallel()
	ctx := context.Background()
	primary, replica := startMember(t), startMember(t)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = audit.Close() })
	pSvc, pTarget := primary.service(t, audit)
	rSvc, rTarget := replica.service(t, audit)
	fleet, err := NewFleet(
		NamedService{Name: "main", Kind: collectors.SourcePostgres, Service: pSvc},
		NamedService{Name: "replica", Kind: collectors.SourcePostgres, Service: rSvc},
	)
	if err != nil {
		t.Fatal(err)
	}
	webIdle := SessionFilter{App: "web", States: []string{"idle"}}

	t.Run("unknown server is refused and audited", func(t *testing.T) {
		_, err := PreviewAs[SessionPlan](ctx, fleet, SessionRequest{Server: "standby", Kind: Terminate, Filter: webIdle})
		want := `no PostgreSQL server named "standby" is configured; the servers are main, replica`
		if !IsRefused(err) || err.Error() != want {
			t.Fatalf("error %v, want refused: %s", err, want)
		}
		last := lastEntry(t, path)
		if last.Phase != PhaseRefused || last.ServerName != "standby" || last.Error != want || last.Action != ActionTerminate {
			t.Fatalf("audit line %+v", last)
		}
	})

	t.Run("a plan moved to another server is refused", func(t *testing.T) {
		plan, err := PreviewAs[SessionPlan](ctx, fleet, SessionRequest{Server: "replica", Kind: Terminate, Filter: webIdle})
		if err != nil {
			t.Fatal(err)
		}
		moved := plan
		moved.ServerName = "main"
		if _, err := ExecuteAs[SessionReport](ctx, fleet, moved); err == nil || !strings.Contains(err.Error(), "preview again") {
			t.Fatalf("moved plan: %v", err)
		}
		moved.ServerName = "gone"
		if _, err := ExecuteAs[SessionReport](ctx, fleet, moved); !IsRefused(err) {
			t.Fatalf("plan for an unknown server: %v", err)
		}
		if got := primary.alive(t); !slices.Equal(got, primary.web) {
			t.Fatalf("primary web sessions %v left of %v", got, primary.web)
		}
		if got := replica.alive(t); !slices.Equal(got, replica.web) {
			t.Fatalf("replica web sessions %v left of %v", got, replica.web)
		}
	})

	t.Run("terminate on the replica touches only the replica", func(t *testing.T) {
		plan, err := PreviewAs[SessionPlan](ctx, fleet, SessionRequest{Server: "replica", Kind: Terminate, Filter: webIdle})
		if err != nil {
			t.Fatal(err)
		}
		if plan.ServerName != "replica" || plan.Server != rTarget {
			t.Fatalf("plan names %q on %s, want replica on %s", plan.ServerName, plan.Server, rTarget)
		}
		if got := sortedPIDs(plan.PIDs()); !slices.Equal(got, replica.web) {
			t.Fatalf("targets %v, want the replica's web sessions %v", got, replica.web)
		}
		report, err := ExecuteAs[SessionReport](ctx, fleet, plan)
		if err != nil {
			t.Fatal(err)
		}
		if c := Counts(report.Results); c[Done] != 3 {
			t.Fatalf("results %+v", report.Results)
		}
		if got := replica.alive(t); len(got) != 0 {
			t.Fatalf("replica web sessions still there: %v", got)
		}
		if got := primary.alive(t); !slices.Equal(got, primary.web) {
			t.Fatalf("primary web sessions %v left of %v: the terminate reached the primary", got, primary.web)
		}
		entries, err := ReadAuditLog(path)
		if err != nil {
			t.Fatal(err)
		}
		var phases []string
		for _, e := range entries {
			if e.Action == ActionTerminate && (e.Phase == PhaseIntent || e.Phase == PhaseResult) {
				if e.ServerName != "replica" || e.Server != rTarget {
					t.Fatalf("audit line names %q on %s: %+v", e.ServerName, e.Server, e)
				}
				phases = append(phases, e.Phase)
			}
		}
		if !slices.Equal(phases, []string{PhaseIntent, PhaseResult}) {
			t.Fatalf("terminate audit phases %v", phases)
		}
	})

	t.Run("no server named is the primary", func(t *testing.T) {
		plan, err := PreviewAs[SessionPlan](ctx, fleet, SessionRequest{Kind: Terminate, Filter: webIdle})
		if err != nil {
			t.Fatal(err)
		}
		if plan.ServerName != "main" || plan.Server != pTarget {
			t.Fatalf("plan names %q on %s, want main on %s", plan.ServerName, plan.Server, pTarget)
		}
		if err := fleet.Decline(ctx, plan); err != nil {
			t.Fatal(err)
		}
		if last := lastEntry(t, path); last.Phase != PhaseDeclined || last.ServerName != "main" {
			t.Fatalf("decline line %+v", last)
		}
		if got := primary.alive(t); !slices.Equal(got, primary.web) {
			t.Fatalf("primary web sessions %v left of %v after a decline", got, primary.web)
		}
	})

	t.Run("a viewer is refused on every server", func(t *testing.T) {
		viewer := fleet.WithOperator(Operator{User: "marcus"}).AsViewer()
		_, err := PreviewAs[SessionPlan](ctx, viewer, SessionRequest{Server: "replica", Kind: Terminate, Filter: webIdle})
		if err != ErrViewer {
			t.Fatalf("viewer: %v", err)
		}
		if last := lastEntry(t, path); last.Phase != PhaseRefused || last.ServerName != "replica" || last.Operator.User != "marcus" {
			t.Fatalf("viewer refusal line %+v", last)
		}
	})
}

func sortedPIDs(p []int32) []int32 {
	out := slices.Clone(p)
	slices.Sort(out)
	return out
}

func lastEntry(t *testing.T, path string) AuditEntry {
	t.Helper()
	entries, err := ReadAuditLog(path)
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit log: %d entries, %v", len(entries), err)
	}
	return entries[len(entries)-1]
}

// TestNewFleetRejects: members must share one audit log and have unique
// names; a single server keeps its names empty and its JSON unchanged.
func TestNewFleetRejects(t *testing.T) {
	a, _ := OpenAuditLog("")
	b, _ := OpenAuditLog("")
	svc := func(audit *AuditLog) *Service { return NewService(nil, nil, DefaultPolicy(), audit, Operator{}) }
	pg := collectors.SourcePostgres
	for name, members := range map[string][]NamedService{
		"two audit logs":        {{Name: "a", Kind: pg, Service: svc(a)}, {Name: "b", Kind: pg, Service: svc(b)}},
		"duplicate name":        {{Name: "a", Kind: pg, Service: svc(a)}, {Name: "a", Kind: collectors.SourceRedis, Service: svc(a)}},
		"unnamed among several": {{Kind: pg, Service: svc(a)}, {Name: "b", Kind: pg, Service: svc(a)}},
		"unknown kind":          {{Name: "a", Kind: "mysql", Service: svc(a)}},
		"no service":            {{Name: "a", Kind: pg}},
		"empty":                 nil,
	} {
		if _, err := NewFleet(members...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
