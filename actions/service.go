package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Service runs mitigations under the safety policy and records every step in
// the audit log. It is safe for concurrent use as far as its drivers are.
type Service struct {
	pg     PGDriver
	rds    RedisDriver
	policy compiledPolicy
	audit  *AuditLog
	op     Operator
	// name is the server's configured name in a Fleet ("" alone): plans
	// and audit lines carry it as ServerName.
	name string
	// readOnly is the error every action is refused with when the policy
	// is read-only (ErrReadOnly, or ErrViewer for a served viewer).
	readOnly error
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

// NewService wires drivers (either may be nil: that side is unavailable), the
// policy, the audit log (nil: nothing is recorded; use OpenAuditLog("") for
// an in-memory log) and the operator named in the audit lines.
func NewService(pg PGDriver, rds RedisDriver, policy Policy, audit *AuditLog, op Operator) *Service {
	return &Service{pg: pg, rds: rds, policy: policy.compile(), audit: audit, op: op, readOnly: ErrReadOnly, now: time.Now, sleep: sleepCtx}
}

// WithOperator is a service for another operator (one per served SSH
// session) sharing this one's drivers, policy and audit log.
func (s *Service) WithOperator(op Operator) *Service {
	c := *s
	c.op = op
	return &c
}

// WithClock is the same service stamping plans and audit lines with now:
// the demo passes its simulated clock, so its audit pane and report read
// in the incident's time like everything else on its screen.
func (s *Service) WithClock(now func() time.Time) *Service {
	c := *s
	c.now = now
	return &c
}

// AsViewer is the same service refusing every action with ErrViewer (and
// auditing the refusal): a served session whose key is not an operator's.
func (s *Service) AsViewer() *Service {
	c := *s
	c.policy.ReadOnly = true
	c.readOnly = ErrViewer
	return &c
}

// withName is the same service naming its server name in plans and audit
// lines (a Fleet member).
func (s *Service) withName(name string) *Service {
	c := *s
	c.name = name
	return &c
}

// Operator is who this service's audit lines name.
func (s *Service) Operator() Operator { return s.op }

// Refuse records that the dashboard refused action (terminate, cancel,
// redis-kill, a finding's mitigation, …) before anything was previewed —
// read-only mode, or a served viewer — with reason as the screen said it,
// and returns the refusal (IsRefused is true): ErrReadOnly or ErrViewer when
// this service is read-only, else a RefusedError carrying reason.
func (s *Service) Refuse(ctx context.Context, action, reason string) error {
	var err error = &RefusedError{Reason: reason}
	switch {
	case s.policy.ReadOnly:
		err = s.readOnly
	case reason == "":
		err = &RefusedError{Reason: action + " was refused"}
	}
	server := s.pgServer()
	if strings.HasPrefix(action, "redis") {
		server = s.redisServer()
	}
	e := s.entry(s.audit.nextID(s.now()), PhaseRefused, action, server)
	e.Error = reason
	if e.Error == "" {
		e.Error = err.Error()
	}
	_ = s.audit.Append(e)
	return err
}

// ReadOnly reports whether every action is refused.
func (s *Service) ReadOnly() bool { return s.policy.ReadOnly }

// Policy is the safety policy in force.
func (s *Service) Policy() Policy { return s.policy.Policy }

// HasPostgres and HasRedis report which side has a driver.
func (s *Service) HasPostgres() bool { return s.pg != nil }
func (s *Service) HasRedis() bool    { return s.rds != nil }

// RecentAudit returns up to n newest audit entries, newest last.
func (s *Service) RecentAudit(n int) []AuditEntry { return s.audit.Recent(n) }

// AuditPath is the audit log file ("" when in memory or absent).
func (s *Service) AuditPath() string {
	if s.audit == nil {
		return ""
	}
	return s.audit.Path()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// entry starts an audit entry with the fields every line carries.
func (s *Service) entry(id, phase, action, server string) AuditEntry {
	return AuditEntry{Time: s.now().UTC(), ActionID: id, Phase: phase, Operator: s.op, Server: server, ServerName: s.name, Action: action}
}

// refuse records a refusal and returns err unchanged. A refusal that cannot
// be recorded is still a refusal: nothing ran.
func (s *Service) refuse(action, server, predicate string, err error) error {
	e := s.entry(s.audit.nextID(s.now()), PhaseRefused, action, server)
	e.Predicate = predicate
	e.Error = err.Error()
	_ = s.audit.Append(e)
	return err
}

// checkAllowed refuses in read-only mode.
func (s *Service) checkAllowed(action, server, predicate string) error {
	if s.policy.ReadOnly {
		return s.refuse(action, server, predicate, s.readOnly)
	}
	return nil
}

// inFlightBound bounds a batch that is finishing after ctx ended (a signal
// arrived): long enough for the signalling statement and the terminate
// wait, short enough that a stuck server cannot hold the exit.
const inFlightBound = DefaultTerminateTimeout + signalStatementTimeout

// runBatches calls do on consecutive batches of n items, starting one batch
// every BatchInterval at most. A batch that has started is finished even
// when ctx ends meanwhile (do gets a context that outlives ctx, bounded by
// inFlightBound), so its outcomes are the true ones; then the loop stops and
// the remaining items are reported by rest. When do fails the rest is
// reported too.
func runBatches[T any](ctx context.Context, s *Service, items []T, do func(context.Context, []T) error, rest func([]T, string)) error {
	n := s.policy.batchSize()
	var started time.Time
	for start := 0; start < len(items); start += n {
		var err error
		if start > 0 {
			err = s.sleep(ctx, s.policy.BatchInterval-s.now().Sub(started))
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			rest(items[start:], "not attempted: interrupted")
			return fmt.Errorf("interrupted after %d of %d targets: %w", start, len(items), err)
		}
		started = s.now()
		batch := items[start:min(start+n, len(items))]
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inFlightBound)
		err = do(bctx, batch)
		cancel()
		if err != nil {
			rest(items[start+len(batch):], "not attempted: an earlier batch failed")
			return err
		}
	}
	return nil
}

// tally splits per-target results into the audit line's lists; Redis
// Cluster results are also listed by node and id.
func tally(e *AuditEntry, results []TargetResult) {
	var byNode []NodeTarget
	for _, r := range results {
		if r.Node != "" {
			byNode = append(byNode, NodeTarget{Node: r.Node, ID: r.ID, Outcome: r.Outcome})
		}
		switch r.Outcome {
		case Done:
			e.Done = append(e.Done, r.ID)
		case Gone:
			e.Gone = append(e.Gone, r.ID)
		case Skipped:
			e.Skipped = append(e.Skipped, AuditTarget{ID: r.ID, Reason: r.Reason, Node: r.Node})
		default:
			e.Failed = append(e.Failed, AuditTarget{ID: r.ID, Reason: r.Reason, Node: r.Node})
		}
	}
	if byNode != nil {
		e.NodeTargets = byNode
	}
}

// Counts summarises results by outcome.
func Counts(results []TargetResult) map[Outcome]int {
	c := map[Outcome]int{}
	for _, r := range results {
		c[r.Outcome]++
	}
	return c
}

var errNoPostgres = errors.New("no PostgreSQL target is configured; configure one to act on PostgreSQL")
var errNoRedis = errors.New("no Redis target is configured; configure one to act on Redis")
