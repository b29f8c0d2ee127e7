package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// The action lifecycle, the same for every kind of action:
//
//	Request ──Preview──▶ Plan ──Execute──▶ Report
//	                      ├──Decline    (a dialog answered n)
//	                      └──Previewed  (a CLI run without --yes)
//
// A Request names the server it goes to; the Plan it previews carries that
// server and is carried out only there. Each kind (sessions, Redis clients,
// guards) supplies its own selection, re-check and audit fields through the
// unexported methods below; everything around them — read-only refusal,
// routing in a Fleet, the audit intent and result lines, decline and
// preview records, claims in serve, the dialog and the CLI — is written
// once against these interfaces.

// Request asks for a preview: a SessionRequest (cancel, terminate), a
// RedisFilter (CLIENT KILL), a GuardRequest (guard-set) or a GuardRevert.
// Only this package's types implement it.
type Request interface {
	// Where is the configured server the request names; "" is the primary
	// of its kind (the only server for a single target).
	Where() string
	requestKind() string // collectors.SourcePostgres or collectors.SourceRedis
	requestAction() string
	requestPredicate() string
	preview(ctx context.Context, s *Service) (Plan, error)
}

// Plan is a previewed action: SessionPlan, RedisPlan or GuardPlan. Exactly
// what it lists is acted on, on the server it was previewed on, after the
// kind's re-check. Only this package's types implement it.
type Plan interface {
	// ActionName is the audit log's action: cancel, terminate,
	// redis-kill, guard-set or guard-revert.
	ActionName() string
	// Where is the configured name of the server the plan was previewed
	// on ("" for a single target); Target is its redacted address.
	Where() string
	Target() string
	// Predicate is the filter as the audit log records it.
	Predicate() string
	// Size is how many things the plan would change: its targets, or one
	// for a guard change.
	Size() int
	// PastTense is the verb of a done action ("terminated", "killed").
	PastTense() string
	// TargetIDs name the plan's targets across operators and actions
	// (nil for a guard, which has no targets of its own).
	TargetIDs() []TargetID

	planKind() string // the kind of server it acts on, as Request
	execute(ctx context.Context, s *Service) (Report, error)
	// entry is the plan's audit line for phase (without results).
	entry(s *Service, id, phase string) AuditEntry
	// report is the plan's report before anything ran.
	report() Report
}

// Report is what an executed Plan did: SessionReport, RedisReport or
// GuardResult. Only this package's types implement it.
type Report interface {
	// Executed is the plan that ran.
	Executed() Plan
	// Outcomes are the per-target results (a guard: its one change, ID 0).
	// The slice is the report's own: a caller annotating a Reason changes
	// the report.
	Outcomes() []TargetResult
	// record adds the outcomes (and err) to the result line.
	record(e *AuditEntry, err error)
}

// TargetID names one target across operators: a pid with its
// backend_start (a reused pid is another session), or a Redis client id
// on its node (a server never reuses an id, but ids repeat across cluster
// nodes); Server is the plan's Where, since both are per server.
type TargetID struct {
	Server string
	Redis  bool
	ID     int64
	Node   string
	Start  time.Time
}

// Lifecycle runs plans: a Service or a Fleet (the dashboard's Mitigator
// is its first three methods).
type Lifecycle interface {
	Preview(ctx context.Context, req Request) (Plan, error)
	Execute(ctx context.Context, p Plan) (Report, error)
	Decline(ctx context.Context, p Plan) error
	Previewed(ctx context.Context, p Plan) error
}

// PreviewAs is Preview for a caller that knows which kind of plan its
// request makes.
func PreviewAs[P Plan](ctx context.Context, l Lifecycle, req Request) (P, error) {
	var zero P
	p, err := l.Preview(ctx, req)
	if err != nil {
		return zero, err
	}
	typed, ok := p.(P)
	if !ok {
		return zero, fmt.Errorf("a %T request previewed a %T, not a %T", req, p, zero)
	}
	return typed, nil
}

// ExecuteAs is Execute for a caller that knows which kind of report its
// plan makes.
func ExecuteAs[R Report](ctx context.Context, l Lifecycle, p Plan) (R, error) {
	rep, err := l.Execute(ctx, p)
	typed, ok := rep.(R)
	if !ok && err == nil {
		err = fmt.Errorf("a %T executed into a %T, not a %T", p, rep, typed)
	}
	return typed, err
}

// GuardRevert asks to revert a guard: back to the value recorded before
// the newest change slotwatch made of it (Value is unused).
type GuardRevert GuardRequest

// Preview computes the plan req asks for. It changes nothing (a refusal is
// audited).
func (s *Service) Preview(ctx context.Context, req Request) (Plan, error) {
	p, err := req.preview(ctx, s)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Execute carries out exactly the plan's targets, re-checking each, and
// records intent and result in the audit log. The report always names
// the plan, also on error.
func (s *Service) Execute(ctx context.Context, p Plan) (Report, error) { return p.execute(ctx, s) }

// Decline records that p was previewed in a dialog and not confirmed.
func (s *Service) Decline(ctx context.Context, p Plan) error {
	if s.policy.ReadOnly {
		return s.readOnly
	}
	return s.audit.Append(p.entry(s, s.audit.nextID(s.now()), PhaseDeclined))
}

// Previewed records a CLI preview that ran without --yes: what would have
// been changed. It is not an action and not a declined dialog.
func (s *Service) Previewed(ctx context.Context, p Plan) error {
	return s.audit.Append(p.entry(s, s.audit.nextID(s.now()), PhasePreviewed))
}

// recorded runs an action between its audit lines: the intent (every
// target) is on disk before run starts, or nothing runs; the result line
// records the true outcomes whatever run returned.
func (s *Service) recorded(p Plan, run func(id string) (Report, error)) (Report, error) {
	id := s.audit.nextID(s.now())
	if err := s.audit.Append(p.entry(s, id, PhaseIntent)); err != nil {
		return p.report(), fmt.Errorf("nothing was done because the audit log cannot record it: %w", err)
	}
	rep, err := run(id)
	result := p.entry(s, id, PhaseResult)
	rep.record(&result, err)
	if aerr := s.audit.Append(result); aerr != nil && err == nil {
		err = fmt.Errorf("the action ran but its result could not be recorded: %w", aerr)
	}
	return rep, err
}

// Preview previews on the server req names.
func (f *Fleet) Preview(ctx context.Context, req Request) (Plan, error) {
	s, err := f.route(req.requestKind(), req.Where())
	if err != nil {
		return nil, f.refuseUnknown(req.requestAction(), req.Where(), req.requestPredicate(), err)
	}
	return s.Preview(ctx, req)
}

// memberOf is the member a plan was previewed on.
func (f *Fleet) memberOf(p Plan) (*Service, error) {
	s, err := f.route(p.planKind(), p.Where())
	if err != nil {
		return nil, f.refuseUnknown(p.ActionName(), p.Where(), p.Predicate(), err)
	}
	return s, nil
}

// Execute executes on the server the plan was previewed on.
func (f *Fleet) Execute(ctx context.Context, p Plan) (Report, error) {
	s, err := f.memberOf(p)
	if err != nil {
		return p.report(), err
	}
	return s.Execute(ctx, p)
}

// Decline records the declined plan on its server.
func (f *Fleet) Decline(ctx context.Context, p Plan) error {
	s, err := f.memberOf(p)
	if err != nil {
		return err
	}
	return s.Decline(ctx, p)
}

// Previewed records a CLI preview without --yes on its server.
func (f *Fleet) Previewed(ctx context.Context, p Plan) error {
	s, err := f.memberOf(p)
	if err != nil {
		return err
	}
	return s.Previewed(ctx, p)
}

// Session actions.

func (r SessionRequest) Where() string            { return r.Server }
func (r SessionRequest) requestKind() string      { return collectors.SourcePostgres }
func (r SessionRequest) requestAction() string    { return string(r.Kind) }
func (r SessionRequest) requestPredicate() string { return r.Filter.String() }
func (r SessionRequest) preview(ctx context.Context, s *Service) (Plan, error) {
	p, err := s.PreviewSessions(ctx, r)
	return p, err
}

func (p SessionPlan) ActionName() string { return string(p.Request.Kind) }
func (p SessionPlan) Where() string      { return p.ServerName }
func (p SessionPlan) Target() string     { return p.Server }
func (p SessionPlan) Predicate() string  { return p.Request.Filter.String() }
func (p SessionPlan) Size() int          { return len(p.Targets) }
func (p SessionPlan) planKind() string   { return collectors.SourcePostgres }
func (p SessionPlan) report() Report     { return SessionReport{Plan: p} }

func (p SessionPlan) PastTense() string {
	if p.Request.Kind == Cancel {
		return "cancelled"
	}
	return "terminated"
}

func (p SessionPlan) TargetIDs() []TargetID {
	out := make([]TargetID, len(p.Targets))
	for i, b := range p.Targets {
		out[i] = TargetID{Server: p.ServerName, ID: int64(b.PID), Start: b.BackendStart}
	}
	return out
}

func (p SessionPlan) execute(ctx context.Context, s *Service) (Report, error) {
	rep, err := s.ExecuteSessions(ctx, p)
	return rep, err
}

func (p SessionPlan) entry(s *Service, id, phase string) AuditEntry {
	return s.sessionEntry(id, phase, p)
}

func (r SessionReport) Executed() Plan                  { return r.Plan }
func (r SessionReport) Outcomes() []TargetResult        { return r.Results }
func (r SessionReport) record(e *AuditEntry, err error) { recordResults(e, r.Results, err) }

// Redis client actions.

func (f RedisFilter) Where() string            { return f.Server }
func (f RedisFilter) requestKind() string      { return collectors.SourceRedis }
func (f RedisFilter) requestAction() string    { return ActionRedisKill }
func (f RedisFilter) requestPredicate() string { return f.String() }
func (f RedisFilter) preview(ctx context.Context, s *Service) (Plan, error) {
	p, err := s.PreviewRedis(ctx, f)
	return p, err
}

func (p RedisPlan) ActionName() string { return ActionRedisKill }
func (p RedisPlan) Where() string      { return p.ServerName }
func (p RedisPlan) Target() string     { return p.Server }
func (p RedisPlan) Predicate() string  { return p.Filter.String() }
func (p RedisPlan) Size() int          { return len(p.Targets) }
func (p RedisPlan) PastTense() string  { return "killed" }
func (p RedisPlan) planKind() string   { return collectors.SourceRedis }
func (p RedisPlan) report() Report     { return RedisReport{Plan: p} }

func (p RedisPlan) TargetIDs() []TargetID {
	out := make([]TargetID, len(p.Targets))
	for i, c := range p.Targets {
		out[i] = TargetID{Server: p.ServerName, Redis: true, ID: c.ID, Node: c.Node}
	}
	return out
}

func (p RedisPlan) execute(ctx context.Context, s *Service) (Report, error) {
	rep, err := s.ExecuteRedis(ctx, p)
	return rep, err
}

func (p RedisPlan) entry(s *Service, id, phase string) AuditEntry { return s.redisEntry(id, phase, p) }

func (r RedisReport) Executed() Plan                  { return r.Plan }
func (r RedisReport) Outcomes() []TargetResult        { return r.Results }
func (r RedisReport) record(e *AuditEntry, err error) { recordResults(e, r.Results, err) }

// recordResults is a targeted action's result line: the outcomes by kind
// and the error that stopped it, if any.
func recordResults(e *AuditEntry, results []TargetResult, err error) {
	tally(e, results)
	if err != nil {
		e.Error = err.Error()
	}
}

// Guards.

func (r GuardRequest) Where() string            { return r.Server }
func (r GuardRequest) requestKind() string      { return guardKind(r.Setting) }
func (r GuardRequest) requestAction() string    { return ActionGuardSet }
func (r GuardRequest) requestPredicate() string { return r.Setting + forRole(r.Role) }
func (r GuardRequest) preview(ctx context.Context, s *Service) (Plan, error) {
	p, err := s.PreviewGuardSet(ctx, r)
	return p, err
}

func (r GuardRevert) Where() string            { return r.Server }
func (r GuardRevert) requestKind() string      { return guardKind(r.Setting) }
func (r GuardRevert) requestAction() string    { return ActionGuardRevert }
func (r GuardRevert) requestPredicate() string { return r.Setting + forRole(r.Role) }
func (r GuardRevert) preview(ctx context.Context, s *Service) (Plan, error) {
	p, err := s.PreviewGuardRevert(ctx, GuardRequest(r))
	return p, err
}

func (p GuardPlan) ActionName() string    { return p.Action }
func (p GuardPlan) Where() string         { return p.ServerName }
func (p GuardPlan) Target() string        { return p.Server }
func (p GuardPlan) Predicate() string     { return p.Setting + forRole(p.Role) }
func (p GuardPlan) Size() int             { return 1 }
func (p GuardPlan) TargetIDs() []TargetID { return nil }
func (p GuardPlan) planKind() string      { return guardKind(p.Setting) }
func (p GuardPlan) report() Report        { return GuardResult{Plan: p} }

func (p GuardPlan) PastTense() string {
	if p.Action == ActionGuardRevert {
		return "reverted"
	}
	return "set"
}

func (p GuardPlan) execute(ctx context.Context, s *Service) (Report, error) {
	rep, err := s.ExecuteGuard(ctx, p)
	return rep, err
}

func (p GuardPlan) entry(s *Service, id, phase string) AuditEntry {
	return s.guardEntry(id, phase, p)
}

func (r GuardResult) Executed() Plan { return r.Plan }
func (r GuardResult) Outcomes() []TargetResult {
	return []TargetResult{{Outcome: r.Outcome, Reason: r.Reason}}
}

// record: a guard's result line has its outcome, and the reason it was
// not done as its error.
func (r GuardResult) record(e *AuditEntry, _ error) {
	e.Outcome, e.Error = r.Outcome, r.Reason
}

// guardKind is the kind of server a guard setting lives on; an unknown
// setting goes to the PostgreSQL primary, which names the valid ones.
func guardKind(setting string) string {
	if setting == GuardRedisTimeout {
		return collectors.SourceRedis
	}
	return collectors.SourcePostgres
}
