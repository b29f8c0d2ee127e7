package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A plain role cannot read other roles' states: a predicate on them is
// refused with the hidden count and the grant, and decided once granted.
func TestHiddenRowsUndecidable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	t.Parallel()
	f := newPGFixture(t, `CREATE ROLE web LOGIN; CREATE ROLE plain LOGIN; GRANT pg_signal_backend TO plain`)
	ctx := context.Background()
	victim := pidOf(f.hold(t, "web", "hidden-app"))
	svc, _, _ := f.service(t, "plain", DefaultPolicy())
	req := SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "hidden-app", States: []string{"idle"}}}
	plan, err := svc.PreviewSessions(ctx, req)
	var hidden *HiddenRowsError
	if !errors.As(err, &hidden) || hidden.Hidden < 1 || !strings.Contains(err.Error(), "GRANT pg_monitor TO plain") || IsRefused(err) {
		t.Fatalf("preview as a plain role = %+v, %v; want the hidden rows counted and the grant named (not a policy refusal)", plan, err)
	}
	if _, err := f.admin.Exec(ctx, "GRANT pg_monitor TO plain"); err != nil {
		t.Fatal(err)
	}
	svc, _, _ = f.service(t, "plain", DefaultPolicy())
	plan, err = svc.PreviewSessions(ctx, req)
	if err != nil || len(plan.Targets) != 1 || plan.Targets[0].PID != victim {
		t.Fatalf("preview after GRANT pg_monitor = %+v, %v; want exactly pid %d", plan, err, victim)
	}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil || len(report.Results) != 1 || report.Results[0].Outcome != Done {
		t.Fatalf("terminate with pg_monitor + pg_signal_backend = %+v, %v; want pid %d terminated", report.Results, err, victim)
	}
}
