package collectors

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Cluster URL schemes: redis+cluster://[user:password@]host:port[,host:port…]
// (rediss+cluster:// for TLS) names seed nodes of a Redis Cluster.
const (
	clusterScheme    = "redis+cluster://"
	clusterTLSScheme = "rediss+cluster://"
)

// IsClusterURL reports whether raw uses a cluster scheme
// (redis+cluster://, rediss+cluster://).
func IsClusterURL(raw string) bool { return isClusterURL(raw) }

// ClusterOptions are the ClusterClient options slotwatch uses for a cluster
// URL (or a redis:// URL of one node): one connection per node named
// slotwatch, no retries, each node's certificate checked against its own
// host. The CLI's own cluster connection uses them as the collectors do;
// the error is one sentence without the password.
func ClusterOptions(rawURL string, timeout time.Duration) (*redis.ClusterOptions, error) {
	return parseClusterOptions(rawURL, orDuration(timeout, defaultRedisTimeout))
}

// isClusterURL reports whether raw uses a cluster scheme.
func isClusterURL(raw string) bool {
	lower := strings.ToLower(raw)
	return strings.HasPrefix(lower, clusterScheme) || strings.HasPrefix(lower, clusterTLSScheme)
}

// isCluster reports whether cfg reads a Redis Cluster.
func (cfg RedisConfig) isCluster() bool { return cfg.Cluster || isClusterURL(cfg.URL) }

// parseClusterOptions turns a cluster URL (or a redis:// URL of one node,
// with RedisConfig.Cluster) into ClusterClient options with the single
// collector's settings: one connection per node (PoolSize 1 applies per
// node), named slotwatch, no retries, no maintenance notifications.
func parseClusterOptions(rawURL string, timeout time.Duration) (*redis.ClusterOptions, error) {
	single, addrs, err := splitClusterURL(rawURL)
	if err != nil {
		return nil, invalidTarget("Redis Cluster target", rawURL, err)
	}
	// The parser's own error, redacted against the whole URL's secrets.
	if _, err := redis.ParseURL(single); err != nil {
		return nil, invalidTarget("Redis Cluster target", rawURL, err)
	}
	opt, err := parseRedisOptions(single, timeout)
	if err != nil {
		return nil, err
	}
	if opt.Network == "unix" {
		return nil, invalidTarget("Redis Cluster target", rawURL, errors.New("a cluster is reached over TCP, not a Unix socket"))
	}
	if opt.DB != 0 {
		return nil, invalidTarget("Redis Cluster target", rawURL, fmt.Errorf("a Redis Cluster has only database 0, not %d", opt.DB))
	}
	if len(addrs) == 0 {
		addrs = []string{opt.Addr}
	}
	return &redis.ClusterOptions{
		Addrs:      addrs,
		ClientName: opt.ClientName,
		Dialer:     clusterDialer(opt.DialTimeout, opt.TLSConfig),
		OnConnect:  opt.OnConnect,
		Protocol:   opt.Protocol,
		Username:   opt.Username,
		Password:   opt.Password,
		// PoolSize and MaxActiveConns apply per node: one connection to
		// each node, which collection and actions share.
		PoolSize: 1, MaxActiveConns: 1, MinIdleConns: 0, MaxIdleConns: 1,
		PipelinePoolSize: -1,
		MaxRetries:       -1,
		DialerRetries:    1,
		DialTimeout:      opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
		PoolTimeout:              opt.PoolTimeout,
		ContextTimeoutEnabled:    true,
		TLSConfig:                opt.TLSConfig,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}, nil
}

// clusterDialer is boundedDialer checking each node's certificate against
// that node's host (ParseURL names the first seed node's).
func clusterDialer(timeout time.Duration, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if tlsConfig == nil {
		return boundedDialer(timeout, nil)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		cfg := tlsConfig.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
		return boundedDialer(timeout, cfg)(ctx, network, addr)
	}
}

// splitClusterURL rewrites a cluster URL as the redis:// (rediss://) URL
// of its first node and lists every node's host:port (default port 6379).
// A URL without a cluster scheme is returned as it is, with no addresses.
func splitClusterURL(raw string) (single string, addrs []string, err error) {
	if !isClusterURL(raw) {
		return raw, nil, nil
	}
	scheme := "redis://"
	rest := raw[len(clusterScheme):]
	if strings.HasPrefix(strings.ToLower(raw), clusterTLSScheme) {
		scheme, rest = "rediss://", raw[len(clusterTLSScheme):]
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hosts = authority[:at+1], authority[at+1:]
	}
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return "", nil, errors.New("a node address is empty; list nodes as host:port,host:port")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "6379")
		}
		addrs = append(addrs, h)
	}
	return scheme + userinfo + addrs[0] + tail, addrs, nil
}

// clusterCollector reads every node of a Redis Cluster (masters and
// replicas) through one ClusterClient holding one connection per node.
type clusterCollector struct {
	// mu serialises collection with WithNodeConn on the nodes' single
	// connections.
	mu       sync.Mutex
	stopped  bool
	cfg      RedisConfig
	target   string // the seed nodes, never a password
	seed     string // the first seed node's host:port
	password string
	client   *redis.ClusterClient
	lastGood *RedisStats
	nodes    map[string]*clusterNodeState
}

// clusterNodeState is what is kept of one node between samples: its last
// CLIENT LIST (reused between adaptive reads) and its last good numbers.
type clusterNodeState struct {
	clients []RedisClient
	groups  []RedisGroup
	listAt  time.Time
	own     int
	last    *RedisNodeStats
}

func newClusterCollector(cfg RedisConfig) *clusterCollector {
	c := &clusterCollector{cfg: cfg, target: RedactURL(cfg.URL), seed: RedactURL(cfg.URL), nodes: map[string]*clusterNodeState{}}
	if opt, err := parseClusterOptions(cfg.URL, cfg.Timeout); err == nil {
		c.seed = scrub(opt.Addrs[0], secretsOf(cfg.URL)...)
		c.target = scrub(strings.Join(opt.Addrs, ","), secretsOf(cfg.URL)...) + " (cluster)"
		c.password = opt.Password
		c.client = redis.NewClusterClient(opt)
	}
	return c
}

func (c *clusterCollector) interval() time.Duration { return c.cfg.Interval }

// close leaves the client to the Set, which shuts it down once collection
// stopped.
func (c *clusterCollector) close() {}

func (c *clusterCollector) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.client != nil {
		_ = c.client.Close()
	}
}

// nodeSample is one node's answer to INFO (+ CLIENT ID and CLIENT LIST).
type nodeSample struct {
	addr    string
	info    string
	ownID   int64
	list    string
	listed  bool
	listErr error
	err     error
}

func (c *clusterCollector) collect(ctx context.Context) func(*Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	stats, err := c.sample(ctx, now)
	return recordRedis(now, stats, err, &c.lastGood, c.password)
}

// sample reads every node concurrently. A node that fails keeps its last
// numbers with its Error and is left out of the totals and clients; only
// when no node answers is the whole sample failed.
func (c *clusterCollector) sample(ctx context.Context, now time.Time) (*RedisStats, error) {
	if c.client == nil {
		return nil, fmt.Errorf("the Redis Cluster target %s is not valid; fix it in the configuration", c.target)
	}
	samples, err := c.fetchAll(ctx, now)
	if err != nil {
		// No node told the cluster's layout (CLUSTER SLOTS).
		return nil, redisFailure(c.target, c.cfg.Timeout, err)
	}
	st := &RedisStats{Sample: Sample{SampledAt: now, LastGoodAt: now}, Target: c.target, Cluster: true}
	var problems []string
	answered := 0
	for _, ns := range samples {
		node, problem := c.recordNode(ns, now)
		st.Nodes = append(st.Nodes, node)
		if problem != "" {
			problems = append(problems, problem)
		}
		if ns.err == nil {
			answered++
			c.addNode(st, ns.addr, ns.info)
		}
	}
	st.Groups = GroupRedisClients(st.Clients)
	c.forget(samples)
	if answered == 0 {
		return nil, fmt.Errorf("no node of Redis at %s answered: %s", c.target, strings.Join(problems, "; "))
	}
	if len(problems) > 0 {
		return st, fmt.Errorf("Redis at %s: %s; the other nodes are current", c.target, strings.Join(problems, "; "))
	}
	return st, nil
}

// fetchAll runs INFO (and CLIENT ID + CLIENT LIST when due) on every
// node, sorted by address. The error is only for a cluster whose nodes
// cannot be learned at all.
func (c *clusterCollector) fetchAll(ctx context.Context, now time.Time) ([]nodeSample, error) {
	var mu sync.Mutex
	var samples []nodeSample
	err := c.client.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		addr := node.Options().Addr
		ns := nodeSample{addr: addr, listed: c.listDue(addr, now)}
		ns.info, ns.ownID, ns.list, ns.listErr, ns.err = fetchInfoAndList(ctx, node, ns.listed)
		mu.Lock()
		samples = append(samples, ns)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(samples, func(a, b nodeSample) int { return strings.Compare(a.addr, b.addr) })
	return samples, nil
}

// listDue applies the single server's adaptive CLIENT LIST interval to
// each node by its own connected clients. It only reads c.nodes, which
// the goroutines of fetchAll never write.
func (c *clusterCollector) listDue(addr string, now time.Time) bool {
	ns := c.nodes[addr]
	if ns == nil || ns.listAt.IsZero() {
		return true
	}
	every := c.cfg.Interval
	if ns.last != nil {
		every = ClientListEvery(ns.last.ConnectedClients, c.cfg.Interval)
	}
	return now.Sub(ns.listAt) >= every-every/10
}

// recordNode turns one node's answer into its RedisNodeStats, updating
// what is kept of the node; problem is the sentence for a failed node
// or a refused CLIENT LIST.
func (c *clusterCollector) recordNode(ns nodeSample, now time.Time) (RedisNodeStats, string) {
	state := c.nodes[ns.addr]
	if state == nil {
		state = &clusterNodeState{}
		c.nodes[ns.addr] = state
	}
	if ns.err != nil {
		msg := scrub(redisFailure(ns.addr, c.cfg.Timeout, ns.err).Error(), c.password)
		node := RedisNodeStats{Addr: ns.addr, Error: msg}
		if state.last != nil {
			node = *state.last
			node.Error = msg
		}
		return node, "node " + ns.addr + ": " + msg
	}
	var info RedisStats
	parseInfo(ns.info, &info)
	node := RedisNodeStats{Addr: ns.addr, Role: infoRole(ns.info), ConnectedClients: info.ConnectedClients,
		MaxClients: info.MaxClients, RejectedConnections: info.RejectedConnections}
	problem := ""
	switch {
	case ns.listErr != nil:
		problem = fmt.Sprintf("node %s refused CLIENT LIST (%v), its client groups are not current: allow the monitoring user +client|list and +client|id", ns.addr, ns.listErr)
	case ns.listed:
		clients, err := ParseClientList(ns.list)
		if err != nil {
			problem = fmt.Sprintf("cannot read CLIENT LIST of node %s: %v", ns.addr, err)
			break
		}
		for i := range clients {
			clients[i].Node = ns.addr
		}
		state.clients = withoutClient(clients, ns.ownID)
		state.own = len(clients) - len(state.clients)
		state.groups = GroupRedisClients(state.clients)
		state.listAt = now
	}
	node.OwnConnections, node.Groups = state.own, state.groups
	kept := node
	state.last = &kept
	return node, problem
}

// addNode adds an answering node's numbers and clients to the totals.
func (c *clusterCollector) addNode(st *RedisStats, addr, info string) {
	state := c.nodes[addr]
	var n RedisStats
	parseInfo(info, &n)
	if st.ServerVersion == "" {
		st.ServerVersion = n.ServerVersion
	}
	st.ConnectedClients += n.ConnectedClients
	st.MaxClients += n.MaxClients
	st.BlockedClients += n.BlockedClients
	st.RejectedConnections += n.RejectedConnections
	st.TotalConnectionsReceived += n.TotalConnectionsReceived
	st.OwnConnections += state.own
	st.Clients = append(st.Clients, state.clients...)
	// The oldest node list dates the clients; the slowest node paces them.
	if !state.listAt.IsZero() && (st.ClientsSampledAt.IsZero() || state.listAt.Before(st.ClientsSampledAt)) {
		st.ClientsSampledAt = state.listAt
	}
	st.ClientListEverySeconds = max(st.ClientListEverySeconds, ClientListEvery(n.ConnectedClients, c.cfg.Interval).Seconds())
}

// forget drops nodes that left the cluster.
func (c *clusterCollector) forget(samples []nodeSample) {
	for addr := range c.nodes {
		if !slices.ContainsFunc(samples, func(ns nodeSample) bool { return ns.addr == addr }) {
			delete(c.nodes, addr)
		}
	}
}

// infoRole is INFO replication's role, with replica for slave.
func infoRole(info string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "role:"); ok {
			if v == "slave" {
				return "replica"
			}
			return v
		}
	}
	return ""
}

// nodeClient finds the client of the node at addr.
func (c *clusterCollector) nodeClient(ctx context.Context, addr string) (*redis.Client, []string, error) {
	found, addrs, err := ClusterNode(ctx, c.client, addr)
	if err != nil {
		return nil, nil, redisFailure(c.target, c.cfg.Timeout, err)
	}
	return found, addrs, nil
}

// ClusterNode returns the client cl holds for the node at addr (nil when
// the cluster has no such node) and every node's address, sorted: masters
// and replicas, as go-redis knows the layout now.
func ClusterNode(ctx context.Context, cl *redis.ClusterClient, addr string) (*redis.Client, []string, error) {
	var mu sync.Mutex
	var found *redis.Client
	var addrs []string
	err := cl.ForEachShard(ctx, func(_ context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		a := node.Options().Addr
		addrs = append(addrs, a)
		if a == addr {
			found = node
		}
		return nil
	})
	slices.Sort(addrs)
	return found, addrs, err
}

// Cluster reports whether the runner's server is a Redis Cluster, whose
// commands must name a node (WithNodeConn).
func (r *RedisRunner) Cluster() bool { return r != nil && r.cl != nil }

// Nodes lists the addresses (host:port) of the server's nodes, masters and
// replicas, sorted; a single server is its one address. Nil when the
// cluster cannot be reached.
func (r *RedisRunner) Nodes() []string {
	switch {
	case r == nil:
		return nil
	case r.cl != nil:
		if r.cl.client == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), orDuration(r.cl.cfg.Timeout, defaultRedisTimeout))
		defer cancel()
		_, addrs, err := r.cl.nodeClient(ctx, "")
		if err != nil {
			return nil
		}
		return addrs
	case r.c != nil && r.c.client != nil:
		return []string{r.c.client.Options().Addr}
	}
	return nil
}

// WithNodeConn runs fn on slotwatch's own connection to the node at addr
// (as RedisClient.Node and Nodes name it), between two ticks. For a single
// server addr is "" or its address, and it is WithConn.
func (r *RedisRunner) WithNodeConn(ctx context.Context, addr string, fn func(ctx context.Context, conn *redis.Conn) error) error {
	if r == nil || (r.c == nil && r.cl == nil) {
		return errors.New("no Redis target is configured")
	}
	if r.cl == nil {
		if own := r.Nodes(); addr != "" && (len(own) == 0 || own[0] != addr) {
			return fmt.Errorf("Redis at %s is a single server, not node %s of a cluster; leave the node out", r.c.target, addr)
		}
		return r.WithConn(ctx, fn)
	}
	c := r.cl
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
		return fmt.Errorf("%w from the Redis Cluster at %s", errStopped, c.target)
	case c.client == nil:
		return fmt.Errorf("the Redis Cluster target %s is not valid", c.target)
	case addr == "":
		return fmt.Errorf("the Redis Cluster at %s has several nodes; name the node to run on", c.target)
	}
	node, addrs, err := c.nodeClient(ctx, addr)
	if err != nil {
		return err
	}
	if node == nil {
		return fmt.Errorf("the Redis Cluster at %s has no node %s; its nodes are %s", c.target, addr, strings.Join(addrs, ", "))
	}
	if err := pingReconnect(ctx, node); err != nil {
		return redisFailure(addr, c.cfg.Timeout, err)
	}
	conn := node.Conn()
	defer conn.Close()
	return fn(ctx, conn)
}

// pingReconnect finds a connection Redis closed (CLIENT KILL, a restart)
// with a PING and dials anew once.
func pingReconnect(ctx context.Context, client *redis.Client) error {
	err := client.Ping(ctx).Err()
	if err == nil || !connectionLost(err) {
		return err
	}
	// The failed PING discarded the dead connection; one more dials anew.
	return client.Ping(ctx).Err()
}
