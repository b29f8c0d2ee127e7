package actions

import (
	"context"
	"errors"
	"fmt"
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
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// NewService wires drivers (either may be nil: that side is unavailable), the
// policy, the audit log (nil: nothing is recorded; use OpenAuditLog("") for
// an in-memory log) and the operator named in the audit lines.
func NewService(pg PGDriver, rds RedisDriver, policy Policy, audit *AuditLog, op Operator) *Service {
	return &Service{pg: pg, rds: rds, policy: policy.compile(), audit: audit, op: op, now: time.Now, sleep: sleepCtx}
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
	return AuditEntry{Time: s.now().UTC(), ActionID: id, Phase: phase, Operator: s.op, Server: server, Action: action}
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
		return s.refuse(action, server, predicate, ErrReadOnly)
	}
	return nil
}

// runBatches calls do on consecutive batches of n items with the policy's
// pause between them; when ctx ends or do fails, the remaining items are
// reported by rest and the loop stops.
func runBatches[T any](ctx context.Context, s *Service, items []T, do func([]T) error, rest func([]T, string)) error {
	n := s.policy.batchSize()
	for start := 0; start < len(items); start += n {
		if start > 0 {
			if err := s.sleep(ctx, s.policy.BatchInterval); err != nil {
				rest(items[start:], "not attempted: interrupted")
				return fmt.Errorf("interrupted after %d of %d targets: %w", start, len(items), err)
			}
		}
		batch := items[start:min(start+n, len(items))]
		if err := do(batch); err != nil {
			rest(items[start+len(batch):], "not attempted: an earlier batch failed")
			return err
		}
	}
	return nil
}

// tally splits per-target results into the audit line's lists.
func tally(e *AuditEntry, results []TargetResult) {
	for _, r := range results {
		switch r.Outcome {
		case Done:
			e.Done = append(e.Done, r.ID)
		case Gone:
			e.Gone = append(e.Gone, r.ID)
		case Skipped:
			e.Skipped = append(e.Skipped, AuditTarget{ID: r.ID, Reason: r.Reason})
		default:
			e.Failed = append(e.Failed, AuditTarget{ID: r.ID, Reason: r.Reason})
		}
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

var errNoPostgres = errors.New("no PostgreSQL target is configured: pass --pg or set SLOTWATCH_PG")
var errNoRedis = errors.New("no Redis target is configured: pass --redis or set SLOTWATCH_REDIS")
