package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// ReasonCancelIdle excludes an idle session from a cancel: not the policy
// protecting it, cancel just cannot reach it.
const ReasonCancelIdle = "idle: cancel has no effect, terminate instead"

// Note shown when a cancel meets sessions waiting for their client.
const cancelIdleNote = "cancel has no effect on idle or idle-in-transaction sessions (PostgreSQL ignores it while the backend waits for the client); terminate them instead"

func isIdleState(state string) bool {
	return state == "idle" || state == "idle in transaction" || state == "idle in transaction (aborted)"
}

func (k Kind) valid() bool { return k == Cancel || k == Terminate }

// PreviewSessions lists exactly which sessions req would signal and which
// matching sessions the policy protects, and why. It changes nothing.
func (s *Service) PreviewSessions(ctx context.Context, req SessionRequest) (SessionPlan, error) {
	action, server := string(req.Kind), s.pgServer()
	if err := s.checkAllowed(action, server, req.Filter.String()); err != nil {
		return SessionPlan{}, err
	}
	if s.pg == nil {
		return SessionPlan{}, errNoPostgres
	}
	if !req.Kind.valid() {
		return SessionPlan{}, fmt.Errorf("unknown session action %q: use cancel or terminate", req.Kind)
	}
	if req.Filter.Empty() {
		return SessionPlan{}, s.refuse(action, server, req.Filter.String(), &RefusedError{
			Reason: "a session action needs at least one filter (state, idle-over, app, user, db, client) or pids; it never means every session"})
	}
	m, err := compileSessionFilter(req.Filter)
	if err != nil {
		return SessionPlan{}, err
	}
	backends, err := s.pg.Backends(ctx)
	if err != nil {
		return SessionPlan{}, fmt.Errorf("list sessions on %s: %w", server, err)
	}
	if err := checkDecidable(req.Filter, backends, s.pgRole()); err != nil {
		return SessionPlan{}, fmt.Errorf("%s on %s: %w", action, server, err)
	}
	plan := SessionPlan{Request: req, Server: server, ServerName: s.name, Statement: s.sessionStatement(req), PlannedAt: s.now().UTC()}
	s.selectSessions(&plan, m, backends)
	return plan, nil
}

// selectSessions fills the plan's targets, exclusions and notes.
func (s *Service) selectSessions(plan *SessionPlan, m sessionMatcher, backends []Backend) {
	own, kind := s.pg.OwnPID(), plan.Request.Kind
	idle := 0
	seen := map[int32]bool{}
	for _, b := range backends {
		if !m.matches(b) {
			continue
		}
		seen[b.PID] = true
		reason := s.policy.excludeSession(b, own)
		if reason == "" && kind == Cancel && isIdleState(b.State) {
			reason, idle = ReasonCancelIdle, idle+1
		}
		if reason != "" {
			plan.Excluded = append(plan.Excluded, Exclusion{Backend: b, Reason: reason})
			continue
		}
		plan.Targets = append(plan.Targets, b)
	}
	if idle > 0 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("%d session(s) left out: %s", idle, cancelIdleNote))
	}
	for _, pid := range plan.Request.Filter.PIDs {
		if !seen[pid] {
			plan.Notes = append(plan.Notes, fmt.Sprintf("pid %d: no such session (already gone, or it does not match the other filters)", pid))
		}
	}
	// Longest in their state first: with --limit the oldest idle go first.
	sort.SliceStable(plan.Targets, func(i, j int) bool { return plan.Targets[i].StateSeconds > plan.Targets[j].StateSeconds })
	if lim := plan.Request.Filter.Limit; lim > 0 && len(plan.Targets) > lim {
		plan.Notes = append(plan.Notes, fmt.Sprintf("%d more session(s) matched; the limit of %d kept those longest in their state", len(plan.Targets)-lim, lim))
		plan.Targets = plan.Targets[:lim]
	}
}

// StatementDescriber is implemented by drivers that can show the exact
// statement they run for a session action.
type StatementDescriber interface {
	Statement(kind Kind, recheck SessionFilter, protect Protection) string
}

func (s *Service) sessionStatement(req SessionRequest) string {
	if d, ok := s.pg.(StatementDescriber); ok {
		return d.Statement(req.Kind, req.Filter, s.policy.protection())
	}
	return describeSignal(req.Kind, req.Filter, s.policy.protection())
}

// pgRole is the role the driver acts as, when it knows it.
func (s *Service) pgRole() string {
	if r, ok := s.pg.(interface{ Role() string }); ok {
		return r.Role()
	}
	return ""
}

func (s *Service) pgServer() string {
	if s.pg == nil {
		return ""
	}
	return s.pg.Server()
}

// ExecuteSessions signals exactly the plan's targets, in batches. The
// policy is applied again to each target, and the driver re-checks identity,
// predicate and the whole safety policy in the signalling statement, so a
// session that changed since the preview is skipped and reported, never
// signalled. The intent (every target) is on disk before the first signal;
// if it cannot be written nothing runs. When ctx ends mid-action, the batch
// in flight is finished and verified (bounded), the rest is reported as not
// attempted, and the result line records the true outcomes.
func (s *Service) ExecuteSessions(ctx context.Context, plan SessionPlan) (SessionReport, error) {
	action := string(plan.Request.Kind)
	report := SessionReport{Plan: plan}
	if err := s.checkAllowed(action, plan.Server, plan.Request.Filter.String()); err != nil {
		return report, err
	}
	if s.pg == nil {
		return report, errNoPostgres
	}
	if !plan.Request.Kind.valid() {
		return report, fmt.Errorf("unknown session action %q: use cancel or terminate", plan.Request.Kind)
	}
	if plan.Server != s.pg.Server() {
		return report, fmt.Errorf("the plan was previewed on %s, not on %s: preview again", plan.Server, s.pg.Server())
	}
	rep, err := s.recorded(plan, func(id string) (Report, error) {
		err := s.signalSessions(ctx, plan, &report)
		if plan.Request.Kind == Terminate {
			s.explainGone(id, plan.Server, ActionTerminate, report.Results)
		}
		return report, err
	})
	return rep.(SessionReport), err
}

// signalSessions signals the plan's targets the policy still allows, the
// others reported as skipped.
func (s *Service) signalSessions(ctx context.Context, plan SessionPlan, report *SessionReport) error {
	allowed := make([]Backend, 0, len(plan.Targets))
	for _, b := range plan.Targets {
		if reason := s.policy.excludeSession(b, s.pg.OwnPID()); reason != "" {
			report.Results = append(report.Results, TargetResult{ID: int64(b.PID), Outcome: Skipped, Reason: "protected: " + reason})
			continue
		}
		allowed = append(allowed, b)
	}
	recheck := plan.Request.Filter
	recheck.Limit = 0
	protect := s.policy.protection()
	if p, ok := s.pg.(PipelinedSignaller); ok {
		return s.signalPipelined(ctx, p, plan, allowed, recheck, protect, report)
	}
	return s.signalBatches(ctx, plan, allowed, recheck, protect, report)
}

// signalBatches runs the batches one after another through the driver's
// Signal, one batch every BatchInterval at most.
func (s *Service) signalBatches(ctx context.Context, plan SessionPlan, allowed []Backend, recheck SessionFilter, protect Protection, report *SessionReport) error {
	action := string(plan.Request.Kind)
	return runBatches(ctx, s, allowed, func(bctx context.Context, batch []Backend) error {
		res, err := s.pg.Signal(bctx, plan.Request.Kind, batch, recheck, protect)
		report.Results = append(report.Results, completeResults(batch, res, err)...)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", action, plan.Server, err)
		}
		return nil
	}, func(rest []Backend, why string) {
		for _, b := range rest {
			report.Results = append(report.Results, TargetResult{ID: int64(b.PID), Outcome: Skipped, Reason: why})
		}
	})
}

// signalPipelined runs the batches through a driver that signals the next
// batch while the previous ones' backends are still exiting, paced by the
// policy's batch size and interval and the service's clock.
func (s *Service) signalPipelined(ctx context.Context, p PipelinedSignaller, plan SessionPlan, targets []Backend, recheck SessionFilter, protect Protection, report *SessionReport) error {
	res, attempted, err := p.SignalPipelined(ctx, plan.Request.Kind, targets, recheck, protect,
		Pace{BatchSize: s.policy.batchSize(), Interval: s.policy.BatchInterval, Now: s.now, Sleep: s.sleep})
	report.Results = append(report.Results, completeResults(targets[:attempted], res, err)...)
	why := "not attempted: an earlier batch failed"
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		why, err = "not attempted: interrupted", fmt.Errorf("interrupted after %d of %d targets: %w", attempted, len(targets), err)
	default:
		err = fmt.Errorf("%s on %s: %w", plan.Request.Kind, plan.Server, err)
	}
	for _, b := range targets[attempted:] {
		report.Results = append(report.Results, TargetResult{ID: int64(b.PID), Outcome: Skipped, Reason: why})
	}
	return err
}

// completeResults makes sure every target of a batch has exactly one result,
// whatever the driver returned.
func completeResults(batch []Backend, res []TargetResult, err error) []TargetResult {
	byID := make(map[int64]TargetResult, len(res))
	for _, r := range res {
		byID[r.ID] = r
	}
	out := make([]TargetResult, 0, len(batch))
	for _, b := range batch {
		r, ok := byID[int64(b.PID)]
		if !ok {
			reason := "the driver reported no result"
			if err != nil {
				reason = "outcome unknown (" + err.Error() + "); check whether it is still there"
			}
			r = TargetResult{ID: int64(b.PID), Outcome: Failed, Reason: reason}
		}
		out = append(out, r)
	}
	return out
}

func (s *Service) sessionEntry(id, phase string, plan SessionPlan) AuditEntry {
	e := s.entry(id, phase, string(plan.Request.Kind), plan.Server)
	e.Predicate = plan.Request.Filter.String()
	e.Statement = plan.Statement
	e.Confirmed = phase == PhaseIntent || phase == PhaseResult
	e.Notes = plan.Notes
	for _, b := range plan.Targets {
		e.Previewed = append(e.Previewed, int64(b.PID))
	}
	for _, x := range plan.Excluded {
		e.Excluded = append(e.Excluded, AuditTarget{ID: int64(x.Backend.PID), Reason: x.Reason})
	}
	if phase == PhaseResult {
		e.Notes = nil
	}
	return e
}

// PIDs lists the plan's target pids.
func (p SessionPlan) PIDs() []int32 {
	out := make([]int32, len(p.Targets))
	for i, b := range p.Targets {
		out[i] = b.PID
	}
	return slices.Clip(out)
}
