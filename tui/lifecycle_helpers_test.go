package tui

import (
	"context"
	"fmt"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

// kindPreviewer is a test stand-in written per kind, as the fakes are;
// previewByKind makes it answer the Mitigator's one Preview.
type kindPreviewer interface {
	PreviewSessions(ctx context.Context, req actions.SessionRequest) (actions.SessionPlan, error)
	PreviewRedis(ctx context.Context, f actions.RedisFilter) (actions.RedisPlan, error)
	PreviewGuardSet(ctx context.Context, req actions.GuardRequest) (actions.GuardPlan, error)
}

func previewByKind(ctx context.Context, k kindPreviewer, req actions.Request) (actions.Plan, error) {
	switch r := req.(type) {
	case actions.SessionRequest:
		return boxed(k.PreviewSessions(ctx, r))
	case actions.RedisFilter:
		return boxed(k.PreviewRedis(ctx, r))
	case actions.GuardRequest:
		return boxed(k.PreviewGuardSet(ctx, r))
	}
	return nil, fmt.Errorf("the fake previews no %T", req)
}

func boxed[P actions.Plan](p P, err error) (actions.Plan, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (f *fakeMitigator) Preview(ctx context.Context, req actions.Request) (actions.Plan, error) {
	return previewByKind(ctx, f, req)
}

func (f *fakeMitigator) Execute(ctx context.Context, plan actions.Plan) (actions.Report, error) {
	switch p := plan.(type) {
	case actions.SessionPlan:
		return f.ExecuteSessions(ctx, p)
	case actions.RedisPlan:
		return f.ExecuteRedis(ctx, p)
	case actions.GuardPlan:
		return f.ExecuteGuard(ctx, p)
	}
	return nil, fmt.Errorf("the fake executes no %T", plan)
}

func (f *fakeMitigator) Decline(ctx context.Context, plan actions.Plan) error {
	switch p := plan.(type) {
	case actions.SessionPlan:
		return f.DeclineSessions(ctx, p)
	case actions.RedisPlan:
		return f.DeclineRedis(ctx, p)
	case actions.GuardPlan:
		return f.DeclineGuard(ctx, p)
	}
	return fmt.Errorf("the fake declines no %T", plan)
}

// The dialog's plan as the kind a test expects, nil when it is another.
func (d *confirmDialog) session() *actions.SessionPlan { return planAs[actions.SessionPlan](d) }
func (d *confirmDialog) redis() *actions.RedisPlan     { return planAs[actions.RedisPlan](d) }
func (d *confirmDialog) guard() *actions.GuardPlan     { return planAs[actions.GuardPlan](d) }

func planAs[P actions.Plan](d *confirmDialog) *P {
	if p, ok := d.plan.(P); ok {
		return &p
	}
	return nil
}

// keepsBackend and keepsClient: does the narrowing keep this target?
func keepsBackend(n narrowing, b actions.Backend) bool {
	return n(actions.SessionPlan{Targets: []actions.Backend{b}}).Size() == 1
}

func keepsClient(n narrowing, c collectors.RedisClient) bool {
	return n(actions.RedisPlan{Targets: []collectors.RedisClient{c}}).Size() == 1
}
