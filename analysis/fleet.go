package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// serverNames are the names the alerts and findings of one pipeline step
// carry: the primary PostgreSQL server's for PostgreSQL, probe, jobs,
// pgbouncer and alerting (they all belong to it), the primary Redis
// server's for Redis. Both are empty for a single target, so its alerts
// and JSON stay as they were.
type serverNames struct{ pg, redis string }

// primaryNames reads the primaries' names from a snapshot's server list.
func primaryNames(servers []collectors.ServerSnapshot) serverNames {
	var n serverNames
	for i := range servers {
		sv := &servers[i]
		if !sv.Primary {
			continue
		}
		switch sv.Kind {
		case collectors.SourcePostgres:
			n.pg = sv.Name
		case collectors.SourceRedis:
			n.redis = sv.Name
		}
	}
	return n
}

// of is the server a rule or finding reading source is about.
func (n serverNames) of(source string) string {
	if source == collectors.SourceRedis {
		return n.redis
	}
	return n.pg
}

// nameFindings sets Server on findings and on their mitigations, so that
// an action taken from a finding goes to the server the finding is about.
func (n serverNames) nameFindings(fs []Finding) {
	if n == (serverNames{}) {
		return
	}
	for i := range fs {
		f := &fs[i]
		f.Server = n.of(findingSource(f.ID))
		for j := range f.Mitigations {
			f.Mitigations[j].Server = f.Server
		}
	}
}

// findingSource is the kind of server a finding is about: the Redis leak
// reads Redis, every other finding PostgreSQL or what belongs to it.
func findingSource(id string) string {
	if kind, _, _ := strings.Cut(id, "/"); kind == FindingRedisClientLeak {
		return collectors.SourceRedis
	}
	return collectors.SourcePostgres
}

// serverKey identifies a sub-pipeline: a name reused for a server of the
// other kind (after a configuration change) must not inherit its states.
func serverKey(sv *collectors.ServerSnapshot) string { return sv.Kind + "\x00" + sv.Name }

// stepServers evaluates every non-primary server of s on its own
// sub-pipeline and appends its alerts, transitions and findings to f, then
// fills f.Fleet. The sub-pipelines are the same Pipeline type stepping a
// snapshot holding only that server, so every rule and finding has one
// implementation; they run only the rules of the server's kind (probe,
// jobs, pgbouncer and alerting belong to the primary).
func (p *Pipeline) stepServers(s collectors.Snapshot, f *Frame) {
	if len(s.Servers) == 0 {
		p.subs = nil
		return
	}
	seen := make(map[string]bool, len(s.Servers))
	for i := range s.Servers {
		sv := &s.Servers[i]
		if sv.Primary {
			continue
		}
		sub := p.sub(sv)
		if sub == nil {
			continue
		}
		seen[serverKey(sv)] = true
		sf := sub.step(serverSnapshot(s.TakenAt, sv), serverNames{pg: sv.Name, redis: sv.Name})
		f.Alerts = append(f.Alerts, sf.Alerts...)
		f.Transitions = append(f.Transitions, sf.Transitions...)
		f.Findings = append(f.Findings, sf.Findings...)
	}
	for k := range p.subs {
		if !seen[k] {
			delete(p.subs, k) // no longer configured: forget its states
		}
	}
	sortFindings(f.Findings)
	f.Fleet = FleetRows(s, f.Alerts)
}

// sub returns the server's sub-pipeline, creating it on first sight; nil
// for a kind no rule reads.
func (p *Pipeline) sub(sv *collectors.ServerSnapshot) *Pipeline {
	if sv.Kind != collectors.SourcePostgres && sv.Kind != collectors.SourceRedis {
		return nil
	}
	key := serverKey(sv)
	if sub := p.subs[key]; sub != nil {
		return sub
	}
	var rules []Rule
	for _, r := range p.rules {
		if r.Source == sv.Kind {
			rules = append(rules, r)
		}
	}
	sub := NewPipeline(rules).WithoutTrend()
	if p.subs == nil {
		p.subs = map[string]*Pipeline{}
	}
	p.subs[key] = sub
	return sub
}

// serverSnapshot is the snapshot a sub-pipeline steps: the server's stats
// at the top level, its failed sample as the source's error.
func serverSnapshot(at time.Time, sv *collectors.ServerSnapshot) collectors.Snapshot {
	s := collectors.Snapshot{TakenAt: at}
	switch sv.Kind {
	case collectors.SourcePostgres:
		s.Postgres = sv.Postgres
	case collectors.SourceRedis:
		s.Redis = sv.Redis
	}
	if sv.Error != "" {
		s.Errors = map[string]string{sv.Kind: sv.Error}
	}
	return s
}

// RedisLoad is how close a Redis server is to maxclients. For a Redis
// Cluster it is the fullest node's: each node refuses connections at its
// own maxclients, so the sum over nodes hides the one about to refuse.
type RedisLoad struct {
	Clients    int64
	MaxClients int64
	// Node is the fullest node's address; empty for a single server.
	Node string
	// Nodes counts the cluster nodes that answered; 0 for a single server.
	Nodes int
}

// Ratio is Clients/MaxClients, 0 when maxclients is unknown.
func (l RedisLoad) Ratio() float64 {
	if l.MaxClients <= 0 {
		return 0
	}
	return float64(l.Clients) / float64(l.MaxClients)
}

// FullestRedis is the load of a Redis server: connected_clients of
// maxclients, or for a cluster (RedisStats.Cluster with Nodes) the node
// with the highest share of its maxclients (ties: more clients). Nodes
// whose sample failed are left out; when none answered, the totals.
func FullestRedis(rs *collectors.RedisStats) RedisLoad {
	total := RedisLoad{Clients: rs.ConnectedClients, MaxClients: rs.MaxClients}
	if !rs.Cluster {
		return total
	}
	var worst *collectors.RedisNodeStats
	n := 0
	for i := range rs.Nodes {
		nd := &rs.Nodes[i]
		if nd.Error != "" {
			continue
		}
		n++
		if worst == nil || fullerNode(nd, worst) {
			worst = nd
		}
	}
	if worst == nil {
		return total
	}
	return RedisLoad{Clients: worst.ConnectedClients, MaxClients: worst.MaxClients, Node: worst.Addr, Nodes: n}
}

// fullerNode: a node with a known maxclients beats one without; then the
// higher share of maxclients, then more clients.
func fullerNode(a, b *collectors.RedisNodeStats) bool {
	if (a.MaxClients > 0) != (b.MaxClients > 0) {
		return a.MaxClients > 0
	}
	if a.MaxClients > 0 {
		// a.C/a.M > b.C/b.M without division.
		if l, r := a.ConnectedClients*b.MaxClients, b.ConnectedClients*a.MaxClients; l != r {
			return l > r
		}
	}
	return a.ConnectedClients > b.ConnectedClients
}

// FleetRows is one row per server of s.Servers (nil when it has none):
// slots used of usable (PostgreSQL Used/Usable, Redis FullestRedis), the
// probe's verdict for the primary PostgreSQL server, the firing and
// pending alerts whose Server is the row's, and Down with the reason when
// the server never answered or its latest sample failed (its numbers are
// then zero: stale numbers are not shown as current). Rows are ordered
// Down first, then highest Ratio, then in configuration order.
func FleetRows(s collectors.Snapshot, alerts []Alert) []FleetRow {
	if len(s.Servers) == 0 {
		return nil
	}
	rows := make([]FleetRow, 0, len(s.Servers))
	for i := range s.Servers {
		sv := &s.Servers[i]
		row := FleetRow{Name: sv.Name, Kind: sv.Kind, Primary: sv.Primary}
		fillUsage(&row, sv)
		if sv.Primary && sv.Kind == collectors.SourcePostgres && s.Probe != nil && sourceFresh(s, collectors.SourceProbe) {
			ok := s.Probe.OK
			row.ProbeOK = &ok
		}
		for j := range alerts {
			if alerts[j].Server != sv.Name {
				continue
			}
			switch alerts[j].State {
			case Firing:
				row.Firing++
			case Pending:
				row.Pending++
			}
		}
		rows = append(rows, row)
	}
	SortFleet(rows)
	return rows
}

// SortFleet orders rows as FleetRows does: Down first, then the highest
// Ratio, the order among equals kept (configuration order).
func SortFleet(rows []FleetRow) {
	slices.SortStableFunc(rows, func(a, b FleetRow) int {
		if a.Down != b.Down {
			if a.Down {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Ratio, a.Ratio)
	})
}

func fillUsage(row *FleetRow, sv *collectors.ServerSnapshot) {
	switch {
	case sv.Error != "":
		row.Down, row.Error = true, sv.Error
		return
	case sv.Kind == collectors.SourcePostgres && sv.Postgres != nil:
		row.Used, row.Usable = sv.Postgres.Used(), sv.Postgres.Usable()
	case sv.Kind == collectors.SourceRedis && sv.Redis != nil:
		l := FullestRedis(sv.Redis)
		row.Used, row.Usable, row.Node = int(l.Clients), int(l.MaxClients), l.Node
	default:
		row.Down, row.Error = true, fmt.Sprintf("%s has not answered yet", sv.Name)
		return
	}
	if row.Usable > 0 {
		row.Ratio = float64(row.Used) / float64(row.Usable)
	}
}
