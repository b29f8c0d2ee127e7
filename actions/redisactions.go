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
// costs one short reply instead of the whole client list. node is the
// Redis Cluster node the ids are on ("" for a single server); the clients
// returned carry it as RedisClient.Node.
type ClientsByIDLister interface {
	ClientsByID(ctx context.Context, node string, ids []int64) ([]collectors.RedisClient, error)
}

// NodeOwnIDs is implemented by Redis drivers that hold a connection on
// each Redis Cluster node: OwnIDOn is the driver's client id on node,
// never killed there. OwnID stays the id on a single server.
type NodeOwnIDs interface {
	OwnIDOn(node string) int64
}

// ownRedisID is the driver's own client id on c's node.
func (s *Service) ownRedisID(c collectors.RedisClient) int64 {
	if o, ok := s.rds.(NodeOwnIDs); ok && c.Node != "" {
		return o.OwnIDOn(c.Node)
	}
	return s.rds.OwnID()
}

// clientKey identifies a Redis client: its id on its node.
type clientKey struct {
	node string
	id   int64
}

func keyOf(c collectors.RedisClient) clientKey { return clientKey{c.Node, c.ID} }

const (
	redisKillStatement        = "CLIENT KILL ID <id> SKIPME yes (one per target, after re-reading it with CLIENT LIST ID)"
	redisClusterKillStatement = "CLIENT KILL ID <id> SKIPME yes on the node holding each target (ids are per node), after re-reading it there with CLIENT LIST ID"
)

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
	plan := RedisPlan{Filter: f, Server: server, ServerName: s.name, Statement: redisKillStatement, PlannedAt: s.now().UTC()}
	if slices.ContainsFunc(clients, func(c collectors.RedisClient) bool { return c.Node != "" }) {
		plan.Statement = redisClusterKillStatement
	}
	seen := map[int64]bool{}
	for _, c := range clients {
		if !m.matches(c) {
			continue
		}
		seen[c.ID] = true
		if reason := s.policy.excludeRedis(c, s.ownRedisID(c)); reason != "" {
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
	rep, err := s.recorded(plan, func(id string) (Report, error) {
		err := runBatches(ctx, s, plan.Targets, func(bctx context.Context, batch []collectors.RedisClient) error {
			res, err := s.killBatch(bctx, m, batch)
			report.Results = append(report.Results, res...)
			return err
		}, func(rest []collectors.RedisClient, why string) {
			for _, c := range rest {
				report.Results = append(report.Results, TargetResult{ID: c.ID, Node: c.Node, Outcome: Skipped, Reason: why})
			}
		})
		s.explainGone(id, plan.Server, ActionRedisKill, report.Results)
		return report, err
	})
	return rep.(RedisReport), err
}

// killBatch re-reads the batch's clients (on their nodes), then kills
// those that still match and are still allowed. It always returns one
// result per target, in the batch's order. A cluster node that cannot be
// read fails only its own targets; the error stops the action only when
// no node of the batch could be read.
func (s *Service) killBatch(ctx context.Context, m redisMatcher, batch []collectors.RedisClient) ([]TargetResult, error) {
	current, unread, err := s.currentClients(ctx, batch)
	out := make([]TargetResult, 0, len(batch))
	for _, was := range batch {
		r := TargetResult{ID: was.ID, Node: was.Node}
		c, ok := current[keyOf(was)]
		switch {
		case unread[was.Node] != nil:
			r.Outcome, r.Reason = Failed, "cannot re-read the client before killing it: "+unread[was.Node].Error()
		case !ok:
			r.Outcome, r.Reason = Gone, "already gone"
		case s.policy.excludeRedis(c, s.ownRedisID(c)) != "":
			r.Outcome, r.Reason = Skipped, "protected: "+s.policy.excludeRedis(c, s.ownRedisID(c))
		case !m.matches(c):
			r.Outcome, r.Reason = Skipped, "no longer matches the filter: "+describeClientChange(was, c)
		default:
			r = s.killOne(ctx, c)
		}
		out = append(out, r)
	}
	if err != nil {
		return out, fmt.Errorf("re-read Redis clients: %w", err)
	}
	return out, nil
}

func (s *Service) killOne(ctx context.Context, c collectors.RedisClient) TargetResult {
	killed, err := s.rds.Kill(ctx, c)
	r := TargetResult{ID: c.ID, Node: c.Node}
	switch {
	case err != nil:
		r.Outcome, r.Reason = Failed, err.Error()
	case !killed:
		r.Outcome, r.Reason = Gone, "already gone"
	default:
		r.Outcome = Done
	}
	return r
}

// currentClients reads the batch's clients as they are now, node by node.
// unread holds the error of each node that could not be read; err is set
// when none could.
func (s *Service) currentClients(ctx context.Context, batch []collectors.RedisClient) (current map[clientKey]collectors.RedisClient, unread map[string]error, err error) {
	var nodes []string
	ids := map[string][]int64{}
	for _, c := range batch {
		if _, ok := ids[c.Node]; !ok {
			nodes = append(nodes, c.Node)
		}
		ids[c.Node] = append(ids[c.Node], c.ID)
	}
	current = make(map[clientKey]collectors.RedisClient, len(batch))
	unread = map[string]error{}
	var all []collectors.RedisClient // the whole list, read once, for drivers without CLIENT LIST ID
	for _, node := range nodes {
		list, err := s.clientsOn(ctx, node, ids[node], &all)
		if err != nil {
			unread[node] = err
			continue
		}
		for _, c := range list {
			if c.Node == node && slices.Contains(ids[node], c.ID) {
				current[keyOf(c)] = c
			}
		}
	}
	if len(unread) == len(nodes) && len(nodes) > 0 {
		return current, unread, unread[nodes[0]]
	}
	return current, unread, nil
}

func (s *Service) clientsOn(ctx context.Context, node string, ids []int64, all *[]collectors.RedisClient) ([]collectors.RedisClient, error) {
	if l, ok := s.rds.(ClientsByIDLister); ok {
		return l.ClientsByID(ctx, node, ids)
	}
	if *all == nil {
		list, err := s.rds.Clients(ctx)
		if err != nil {
			return nil, err
		}
		*all = list
	}
	return *all, nil
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

func (s *Service) redisEntry(id, phase string, plan RedisPlan) AuditEntry {
	e := s.entry(id, phase, ActionRedisKill, plan.Server)
	e.Predicate = plan.Filter.String()
	e.Statement = plan.Statement
	e.Confirmed = phase == PhaseIntent || phase == PhaseResult
	for _, c := range plan.Targets {
		e.Previewed = append(e.Previewed, c.ID)
		if c.Node != "" {
			e.NodeTargets = append(e.NodeTargets, NodeTarget{Node: c.Node, ID: c.ID})
		}
	}
	for _, x := range plan.Excluded {
		e.Excluded = append(e.Excluded, AuditTarget{ID: x.Client.ID, Reason: x.Reason, Node: x.Client.Node})
	}
	if phase != PhaseResult {
		e.Notes = plan.Notes
	}
	return e
}
