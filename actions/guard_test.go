package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func (f *pgFixture) testGuards(t *testing.T) {
	ctx := context.Background()
	svc, _, path := f.service(t, "postgres", DefaultPolicy())
	roleValue := func() string {
		return f.srv.Psql(t, "postgres", `SELECT coalesce(string_agg(c, ','), '') FROM pg_db_role_setting s
			JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) c WHERE r.rolname = 'web' AND c LIKE 'idle_session_timeout=%'`)
	}
	apply := func(plan GuardPlan, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.ExecuteGuard(ctx, plan)
		if err != nil || res.Outcome != Done {
			t.Fatalf("execute %+v: %+v %v", plan, res, err)
		}
	}

	plan, err := svc.PreviewGuardSet(ctx, GuardRequest{Setting: GuardIdleSession, Role: "web", Value: "1min"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Current != nil || *plan.New != "1min" || plan.Statement != `ALTER ROLE "web" SET idle_session_timeout = '1min'` {
		t.Fatalf("plan %+v", plan)
	}
	if roleValue() != "" {
		t.Fatal("preview changed the role setting")
	}
	apply(plan, nil)
	if got := roleValue(); got != "idle_session_timeout=1min" {
		t.Fatalf("role setting %q", got)
	}
	// New sessions of the role get it.
	var v string
	if err := f.hold(t, "web", "guard-check").QueryRow(ctx, "SHOW idle_session_timeout").Scan(&v); err != nil || v != "1min" {
		t.Fatalf("new web session has idle_session_timeout %q %v", v, err)
	}
	apply(svc.PreviewGuardSet(ctx, GuardRequest{Setting: GuardIdleSession, Role: "web", Value: "2min"}))

	values, err := svc.ShowGuards(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	var shown *GuardValue
	for i := range values {
		if values[i].Setting == GuardIdleSession {
			shown = &values[i]
		}
	}
	if shown == nil || *shown.Value != "2min" || shown.RevertTo == nil || *shown.RevertTo != "1min" {
		t.Fatalf("show = %+v", values)
	}

	// Reverts walk back one step at a time: 2min → 1min → not set.
	apply(svc.PreviewGuardRevert(ctx, GuardRequest{Setting: GuardIdleSession, Role: "web"}))
	if got := roleValue(); got != "idle_session_timeout=1min" {
		t.Fatalf("after first revert %q", got)
	}
	rev, err := svc.PreviewGuardRevert(ctx, GuardRequest{Setting: GuardIdleSession, Role: "web"})
	if err != nil || rev.New != nil || rev.Statement != `ALTER ROLE "web" RESET idle_session_timeout` {
		t.Fatalf("second revert plan %+v %v", rev, err)
	}
	apply(rev, nil)
	if got := roleValue(); got != "" {
		t.Fatalf("after second revert %q", got)
	}
	if _, err := svc.PreviewGuardRevert(ctx, GuardRequest{Setting: GuardIdleSession, Role: "web"}); err == nil || !strings.Contains(err.Error(), "no change") {
		t.Fatalf("third revert err = %v", err)
	}

	// A value changed behind our back between preview and execute is not overwritten.
	stale, err := svc.PreviewGuardSet(ctx, GuardRequest{Setting: GuardIdleInTransaction, Role: "web", Value: "30s"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Psql(t, "postgres", "ALTER ROLE web SET idle_in_transaction_session_timeout = '10s'")
	res, err := svc.ExecuteGuard(ctx, stale)
	if err != nil || res.Outcome != Skipped {
		t.Fatalf("stale guard: %+v %v", res, err)
	}
	f.srv.Psql(t, "postgres", "ALTER ROLE web RESET idle_in_transaction_session_timeout")

	for _, bad := range []GuardRequest{
		{Setting: GuardIdleSession, Role: "web", Value: "5min; DROP TABLE x"},
		{Setting: GuardIdleSession, Value: "5min"},
		{Setting: GuardIdleSession, Role: "nobody", Value: "5min"},
		{Setting: "work_mem", Role: "web", Value: "1GB"},
	} {
		if _, err := svc.PreviewGuardSet(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}

	es := readAudit(t, path)
	var sets, reverts, skipped int
	for _, e := range es {
		if e.Phase != PhaseResult {
			continue
		}
		switch {
		case e.Outcome == Skipped:
			skipped++
		case e.Action == ActionGuardSet:
			sets++
		case e.Action == ActionGuardRevert:
			reverts++
			if e.RevertOf == "" {
				t.Errorf("revert without revert_of: %+v", e)
			}
		}
	}
	if sets != 2 || reverts != 2 || skipped != 1 {
		t.Fatalf("audit results: %d sets, %d reverts, %d skipped; want 2, 2, 1", sets, reverts, skipped)
	}
	first := es[1]
	if first.Previous != nil || first.New == nil || *first.New != "1min" || first.Role != "web" {
		t.Fatalf("first set result %+v", first)
	}

	ro := DefaultPolicy()
	ro.ReadOnly = true
	roSvc, _, _ := f.service(t, "postgres", ro)
	if _, err := roSvc.PreviewGuardSet(ctx, GuardRequest{Setting: GuardIdleSession, Role: "web", Value: "1min"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only guard err = %v", err)
	}
	if _, err := svc.ShowGuards(ctx, "nobody"); err == nil || !strings.Contains(err.Error(), "no role") {
		t.Fatalf("show for a missing role: %v", err)
	}
	if _, err := roSvc.ShowGuards(ctx, ""); err != nil {
		t.Fatalf("show is a read and works read-only: %v", err)
	}
}

func (f *redisFixture) testGuard(t *testing.T) {
	ctx := context.Background()
	svc, rc, path := f.service(t, DefaultPolicy())
	timeout := func() string {
		v, err := rc.ConfigGet(ctx, "timeout")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	plan, err := svc.PreviewGuardSet(ctx, GuardRequest{Setting: GuardRedisTimeout, Value: "300"})
	if err != nil || *plan.Current != "0" || plan.Statement != "CONFIG SET timeout 300" {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if timeout() != "0" {
		t.Fatal("preview changed timeout")
	}
	if res, err := svc.ExecuteGuard(ctx, plan); err != nil || res.Outcome != Done || timeout() != "300" {
		t.Fatalf("set: %+v %v timeout %s", res, err, timeout())
	}
	rev, err := svc.PreviewGuardRevert(ctx, GuardRequest{Setting: GuardRedisTimeout})
	if err != nil || *rev.New != "0" {
		t.Fatalf("revert plan %+v %v", rev, err)
	}
	if res, err := svc.ExecuteGuard(ctx, rev); err != nil || res.Outcome != Done || timeout() != "0" {
		t.Fatalf("revert: %+v %v timeout %s", res, err, timeout())
	}
	if _, err := svc.PreviewGuardSet(ctx, GuardRequest{Setting: GuardRedisTimeout, Value: "5m"}); err == nil {
		t.Fatal("non-integer Redis timeout accepted")
	}
	es := readAudit(t, path)
	if len(es) != 4 || *es[1].Previous != "0" || *es[1].New != "300" || *es[3].New != "0" || es[3].Action != ActionGuardRevert {
		t.Fatalf("audit %+v", es)
	}
}
