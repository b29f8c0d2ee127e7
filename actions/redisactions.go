package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slotwatch/slotwatch/collectors"
)

// ClientsByIDLister is implemented by Redis drivers that can list only some
// clients (CLIENT LIST ID, Redis 6.2+): the re-check before each batch then
// costs one short reply instead of the whole client list.
type ClientsByIDLister interface {
	ClientsByID(ctx context.Context, ids []int64) ([]collectors.RedisClient, error)
}

// PreviewRedis lists exactly which clients CLIENT KILL would close and which
// matching clients the policy protects. It changes nothing.
func (s *Service) PreviewRedis(ctx context.Context, f RedisFilter) (RedisPlan, error) {
	server := s.redisServer()
	if err := s.checkAllowed(ActionRedisKill, server, f.String()); err != nil {
		return RedisPlan{}, err
	}
	if s.rds == nil {
		return RedisPlan{}, errNoRedis
	}
	if f.Empty() {
		return RedisPlan{}, s.refuse(ActionRedisKill, server, f.String(), &RefusedError{
			Reason: "a Redis kill needs at least one filter (host, name, lib, idle-over, age-over) or client ids; it never means every client"})
	}
	m, err := compileRedisFilter(f)
	if err != nil {
		return RedisPlan{}, err
	}
	clients, err := s.rds.Clients(ctx)
	if err != nil {
		return RedisPlan{}, fmt.Errorf("list Redis clients on %s: %w", server, err)
	}
	plan := RedisPlan{Filter: f, Server: server, Statement: "CLIENT KILL ID <id> SKIPME yes (one per target, after re-reading it with CLIENT LIST ID)", PlannedAt: s.now().UTC()}
	seen := map[int64]bool{}
	for _, c := range clients {
		if !m.matches(c) {
			continue
		}
		seen[c.ID] = true
		if reason := s.policy.excludeRedis(c, s.rds.OwnID()); reason != "" {
			plan.Excluded = append(plan.Excluded, RedisExclusion{Client: c, Reason: reason})
			continue
		}
		plan.Targets = append(plan.Targets, c)
	}
	for _, id := range f.IDs {
		if !seen[id] {
			plan.Notes = append(plan.Notes, fmt.Sprintf("client %d: no such client (already gone, or it does not match the other filters)", id))
		}
	}
	return plan, nil
}

func (s *Service) redisServer() string {
	if s.rds == nil {
		return ""
	}
	return s.rds.Server()
}

// ExecuteRedis kills exactly the plan's targets, in batches. Before each
// batch the targets are read again: a client that no longer matches the
// filter (e.g. it ran a command and is no longer idle) is skipped. Redis
// never reuses client ids, so the id alone proves identity.
func (s *Service) ExecuteRedis(ctx context.Context, plan RedisPlan) (RedisReport, error) {
	report := RedisReport{Plan: plan}
	if err := s.checkAllowed(ActionRedisKill, plan.Server, plan.Filter.String()); err != nil {
		return report, err
	}
	if s.rds == nil {
		return report, errNoRedis
	}
	if plan.Server != s.rds.Server() {
		return report, fmt.Errorf("the plan was previewed on %s, not on %s: preview again", plan.Server, s.rds.Server())
	}
	m, err := compileRedisFilter(plan.Filter)
	if err != nil {
		return report, err
	}
	id := s.audit.nextID(s.now())
	if err := s.audit.Append(s.redisEntry(id, PhaseIntent, plan)); err != nil {
		return report, fmt.Errorf("nothing was done because the audit log cannot record it: %w", err)
	}
	err = runBatches(ctx, s, plan.Targets, func(bctx context.Context, batch []collectors.RedisClient) error {
		res, err := s.killBatch(bctx, m, batch)
		report.Results = append(report.Results, res...)
		return err
	}, func(rest []collectors.RedisClient, why string) {
		for _, c := range rest {
			report.Results = append(report.Results, TargetResult{ID: c.ID, Outcome: Skipped, Reason: why})
		}
	})
	s.explainGone(id, plan.Server, ActionRedisKill, report.Results)
	result := s.redisEntry(id, PhaseResult, plan)
	tally(&result, report.Results)
	if err != nil {
		result.Error = err.Error()
	}
	if aerr := s.audit.Append(result); aerr != nil && err == nil {
		err = fmt.Errorf("the action ran but its result could not be recorded: %w", aerr)
	}
	return report, err
}

// killBatch re-reads the batch's clients, then kills those that still match
// and are still allowed. It always returns one result per target.
func (s *Service) killBatch(ctx context.Context, m redisMatcher, batch []collectors.RedisClient) ([]TargetResult, error) {
	ids := make([]int64, len(batch))
	for i, c := range batch {
		ids[i] = c.ID
	}
	current, err := s.currentClients(ctx, ids)
	out := make([]TargetResult, 0, len(batch))
	if err != nil {
		for _, id := range ids {
			out = append(out, TargetResult{ID: id, Outcome: Failed, Reason: "cannot re-read the client before killing it: " + err.Error()})
		}
		return out, fmt.Errorf("re-read Redis clients: %w", err)
	}
	for i, id := range ids {
		r := TargetResult{ID: id}
		c, ok := current[id]
		switch {
		case !ok:
			r.Outcome, r.Reason = Gone, "already gone"
		case s.policy.excludeRedis(c, s.rds.OwnID()) != "":
			r.Outcome, r.Reason = Skipped, "protected: "+s.policy.excludeRedis(c, s.rds.OwnID())
		case !m.matches(c):
			r.Outcome, r.Reason = Skipped, "no longer matches the filter: "+describeClientChange(batch[i], c)
		default:
			r = s.killOne(ctx, id)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) killOne(ctx context.Context, id int64) TargetResult {
	killed, err := s.rds.Kill(ctx, id)
	switch {
	case err != nil:
		return TargetResult{ID: id, Outcome: Failed, Reason: err.Error()}
	case !killed:
		return TargetResult{ID: id, Outcome: Gone, Reason: "already gone"}
	default:
		return TargetResult{ID: id, Outcome: Done}
	}
}

func (s *Service) currentClients(ctx context.Context, ids []int64) (map[int64]collectors.RedisClient, error) {
	var list []collectors.RedisClient
	var err error
	if l, ok := s.rds.(ClientsByIDLister); ok {
		list, err = l.ClientsByID(ctx, ids)
	} else {
		list, err = s.rds.Clients(ctx)
	}
	if err != nil {
		return nil, err
	}
	out := make(map[int64]collectors.RedisClient, len(ids))
	for _, c := range list {
		if slices.Contains(ids, c.ID) {
			out[c.ID] = c
		}
	}
	return out, nil
}

func describeClientChange(was, now collectors.RedisClient) string {
	var d []string
	if was.IdleSeconds != now.IdleSeconds {
		d = append(d, fmt.Sprintf("idle %ds now (%ds at the preview)", now.IdleSeconds, was.IdleSeconds))
	}
	if was.Name != now.Name {
		d = append(d, fmt.Sprintf("name %q now (%q at the preview)", now.Name, was.Name))
	}
	if was.LibName != now.LibName {
		d = append(d, fmt.Sprintf("lib-name %q now", now.LibName))
	}
	if len(d) == 0 {
		return "it changed since the preview"
	}
	return strings.Join(d, ", ")
}

// DeclineRedis records that plan was previewed and not confirmed.
func (s *Service) DeclineRedis(ctx context.Context, plan RedisPlan) error {
	if s.policy.ReadOnly {
		return s.readOnly
	}
	return s.audit.Append(s.redisEntry(s.audit.nextID(s.now()), PhaseDeclined, plan))
}

func (s *Service) redisEntry(id, phase string, plan RedisPlan) AuditEntry {
	e := s.entry(id, phase, ActionRedisKill, plan.Server)
	e.Predicate = plan.Filter.String()
	e.Statement = plan.Statement
	e.Confirmed = phase == PhaseIntent || phase == PhaseResult
	for _, c := range plan.Targets {
		e.Previewed = append(e.Previewed, c.ID)
	}
	for _, x := range plan.Excluded {
		e.Excluded = append(e.Excluded, AuditTarget{ID: x.Client.ID, Reason: x.Reason})
	}
	if phase != PhaseResult {
		e.Notes = plan.Notes
	}
	return e
}
