package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RedisNodeGuardDriver is implemented by Redis drivers that reach every
// node of a Redis Cluster (*RedisConn). CONFIG SET changes one node only,
// so the timeout guard reads and changes each node, and records each
// node's previous value so that revert restores each.
type RedisNodeGuardDriver interface {
	// GuardNodes lists every node, masters and replicas; nil for a single
	// server.
	GuardNodes() []string
	ConfigGetOn(ctx context.Context, node, name string) (string, error)
	ConfigSetOn(ctx context.Context, node, name, value string) error
}

// GuardNode is one Redis Cluster node's value of a guard: Current before
// the change, New after it.
type GuardNode struct {
	Node    string  `json:"node"`
	Current *string `json:"current"`
	New     *string `json:"new"`
}

// rollbackBound bounds setting already changed nodes back after another
// node refused, even when the action's context has ended.
const rollbackBound = 10 * time.Second

// redisGuardNodes are the nodes of a Redis Cluster target, nil otherwise.
func (s *Service) redisGuardNodes() []string {
	if s.rds == nil {
		return nil
	}
	if g, ok := s.rds.(RedisNodeGuardDriver); ok {
		return g.GuardNodes()
	}
	return nil
}

// readNodeTimeouts reads the timeout of every node.
func (s *Service) readNodeTimeouts(ctx context.Context, nodes []string) ([]GuardNode, error) {
	g := s.rds.(RedisNodeGuardDriver)
	out := make([]GuardNode, 0, len(nodes))
	for _, node := range nodes {
		v, err := g.ConfigGetOn(ctx, node, "timeout")
		if err != nil {
			return nil, fmt.Errorf("read the Redis timeout of node %s of %s: %w", node, s.redisServer(), err)
		}
		out = append(out, GuardNode{Node: node, Current: &v})
	}
	return out, nil
}

// clusterGuardPlan fills a Redis Cluster plan's per-node current values.
func (s *Service) clusterGuardPlan(ctx context.Context, plan GuardPlan, nodes []string) (GuardPlan, error) {
	ns, err := s.readNodeTimeouts(ctx, nodes)
	if err != nil {
		return plan, err
	}
	plan.Nodes = ns
	plan.Current = commonValue(ns, func(n GuardNode) *string { return n.Current })
	return plan, nil
}

// showNodeTimeouts is one GuardValue per node.
func (s *Service) showNodeTimeouts(ctx context.Context, nodes []string) ([]GuardValue, error) {
	ns, err := s.readNodeTimeouts(ctx, nodes)
	if err != nil {
		return nil, err
	}
	out := make([]GuardValue, 0, len(ns))
	for _, n := range ns {
		out = append(out, GuardValue{Setting: GuardRedisTimeout, Server: s.redisServer(), Node: n.Node, Value: n.Current})
	}
	return out, nil
}

// commonValue is the nodes' value when they agree, else a description
// naming each node's (display only: execution uses the nodes' own).
func commonValue(nodes []GuardNode, get func(GuardNode) *string) *string {
	if len(nodes) == 0 {
		return nil
	}
	first, same := get(nodes[0]), true
	parts := make([]string, 0, len(nodes))
	for _, n := range nodes {
		same = same && sameValue(get(n), first)
		parts = append(parts, n.Node+"="+show(get(n)))
	}
	if same {
		return first
	}
	d := "differs per node (" + strings.Join(parts, ", ") + ")"
	return &d
}

// nodePrevious is what revert would restore on node: its value before the
// recorded change, or its value now when the change did not include it.
func nodePrevious(recorded []GuardNode, node string, now *string) *string {
	for _, n := range recorded {
		if n.Node == node {
			return n.Current
		}
	}
	return now
}

// revertNodes sets each node of a revert plan back to the value the
// recorded change found on it, and returns notes on nodes that differ
// from what slotwatch set, joined the cluster since (left as they are) or
// left it (not restored).
func revertNodes(plan *GuardPlan, set AuditEntry) ([]string, error) {
	if len(plan.Nodes) == 0 {
		return nil, fmt.Errorf("the change %s was made on the nodes of a Redis Cluster, and %s is no longer one; set the timeout by hand", set.ActionID, plan.Server)
	}
	var notes []string
	if len(set.Nodes) == 0 {
		// Recorded on a single server that is a cluster now: its one
		// previous value is what every node goes back to.
		for i := range plan.Nodes {
			plan.Nodes[i].New = set.Previous
		}
		plan.New = set.Previous
		return append(notes, fmt.Sprintf("the change was made on a single server; every node of the cluster is set back to %s", show(set.Previous))), nil
	}
	recorded := map[string]GuardNode{}
	for _, n := range set.Nodes {
		recorded[n.Node] = n
	}
	for i := range plan.Nodes {
		n := &plan.Nodes[i]
		r, ok := recorded[n.Node]
		if !ok {
			n.New = n.Current
			notes = append(notes, fmt.Sprintf("node %s was not part of the change being reverted; it stays at %s", n.Node, show(n.Current)))
			continue
		}
		delete(recorded, n.Node)
		n.New = r.Current
		if !sameValue(n.Current, r.New) {
			notes = append(notes, fmt.Sprintf("node %s is now at %s, not the %s slotwatch set: someone changed it since; revert overwrites that",
				n.Node, show(n.Current), show(r.New)))
		}
	}
	gone := make([]string, 0, len(recorded))
	for node := range recorded {
		gone = append(gone, node)
	}
	slices.Sort(gone)
	for _, node := range gone {
		notes = append(notes, fmt.Sprintf("node %s of the change being reverted is no longer in the cluster; it is not restored", node))
	}
	plan.New = commonValue(plan.Nodes, func(n GuardNode) *string { return n.New })
	return notes, nil
}

// clusterConfigStatement is the per-node CONFIG SET a cluster plan runs.
func clusterConfigStatement(nodes []GuardNode) string {
	news := func(n GuardNode) *string { return n.New }
	if v := commonValue(nodes, news); v != nil && sameValue(v, nodes[0].New) {
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.Node
		}
		return redisConfigStatement(timeoutArg(v)) + " on each node: " + strings.Join(names, ", ")
	}
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = n.Node + " " + timeoutArg(n.New)
	}
	return "CONFIG SET timeout on each node: " + strings.Join(parts, ", ")
}

func timeoutArg(v *string) string {
	if v == nil {
		return "0"
	}
	return *v
}

// nodesChanged says why a cluster plan no longer fits the cluster (a node
// joined or left, or a node's value changed), or "" when it still does.
func nodesChanged(fresh, planned []GuardNode) string {
	names := func(ns []GuardNode) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = n.Node
		}
		return out
	}
	if !slices.Equal(names(fresh), names(planned)) {
		return fmt.Sprintf("the cluster's nodes changed since the preview (now %s; were %s); preview again",
			orNone(names(fresh)), orNone(names(planned)))
	}
	for i := range fresh {
		if !sameValue(fresh[i].Current, planned[i].Current) {
			return fmt.Sprintf("the value on node %s changed since the preview (now %s, was %s); preview again",
				fresh[i].Node, show(fresh[i].Current), show(planned[i].Current))
		}
	}
	return ""
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// applyNodeTimeouts sets each node's timeout in turn. When a node refuses,
// the nodes already changed are set back to their previous values, so a
// failed guard leaves the cluster as it was (or names the nodes it could
// not restore).
func (s *Service) applyNodeTimeouts(ctx context.Context, nodes []GuardNode) error {
	g := s.rds.(RedisNodeGuardDriver)
	for i, n := range nodes {
		err := g.ConfigSetOn(ctx, n.Node, "timeout", timeoutArg(n.New))
		if err == nil {
			continue
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackBound)
		defer cancel()
		var stuck []string
		for _, done := range nodes[:i] {
			if rerr := g.ConfigSetOn(rctx, done.Node, "timeout", timeoutArg(done.Current)); rerr != nil {
				stuck = append(stuck, fmt.Sprintf("%s (now %s, was %s)", done.Node, timeoutArg(done.New), timeoutArg(done.Current)))
			}
		}
		if len(stuck) > 0 {
			return fmt.Errorf("%w; nodes %s could not be set back: set their timeout by hand", err, strings.Join(stuck, ", "))
		}
		return fmt.Errorf("%w; the %d node(s) already changed were set back", err, i)
	}
	return nil
}
