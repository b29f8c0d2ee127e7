package actions

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/slotwatch/slotwatch/collectors"
)

// RedisSession runs fn on a Redis connection it owns, connecting or
// reconnecting first when needed; calls are serialised. The collectors'
// runner (collectors.Set.Redis()) satisfies it; DialRedis makes one over a
// dedicated client.
type RedisSession interface {
	WithConn(ctx context.Context, fn func(ctx context.Context, conn *redis.Conn) error) error
	// Server names the target without credentials.
	Server() string
}

// RedisNodeSession is a RedisSession that can also run fn on one node of
// a Redis Cluster (collectors.RedisRunner implements it). For a cluster,
// WithConn refuses (a command must name its node); for a single server
// Cluster is false and WithNodeConn("") is WithConn.
type RedisNodeSession interface {
	RedisSession
	Cluster() bool
	// Nodes lists the cluster's node addresses (host:port), masters and
	// replicas.
	Nodes() []string
	WithNodeConn(ctx context.Context, addr string, fn func(ctx context.Context, conn *redis.Conn) error) error
}

// RedisConn is the real RedisDriver and RedisGuardDriver. Redis never
// reuses client ids, so a previewed id still names the same client at kill
// time. Its own client id is read on the connection at use time (the
// session may have reconnected). On a Redis Cluster every command runs on
// a named node: client ids, the own id and CLIENT LIST ID support are per
// node, so the driver keeps them per node ("" is the single server).
type RedisConn struct {
	sess  RedisSession
	close func() error

	mu     sync.Mutex
	ownIDs map[string]int64
	// versions is each node's redis_version, read once; byID tells
	// whether CLIENT LIST ID (6.2+) is available there.
	versions map[string]string
	byID     map[string]bool
}

var (
	_ RedisDriver       = (*RedisConn)(nil)
	_ ClientsByIDLister = (*RedisConn)(nil)
	_ NodeOwnIDs        = (*RedisConn)(nil)
)

// NewRedisDriver makes a driver that borrows s's connection for every
// command.
func NewRedisDriver(s RedisSession) *RedisConn {
	return &RedisConn{sess: s, ownIDs: map[string]int64{}, versions: map[string]string{}, byID: map[string]bool{}}
}

// DialRedis opens a dedicated connection to a redis:// or rediss:// URL for
// the duration of a command (the CLI).
// A redis+cluster:// URL is a Redis Cluster (DialRedisCluster).
func DialRedis(ctx context.Context, rawURL string) (*RedisConn, error) {
	if IsClusterURL(rawURL) {
		return DialRedisCluster(ctx, rawURL)
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("the Redis URL %s is not valid: %s", collectors.RedactURL(rawURL), collectors.RedactError(rawURL, err))
	}
	opt.ClientName = "slotwatch"
	// One connection, no silent re-dial behind our back: the own id stays true.
	opt.PoolSize, opt.MaxActiveConns, opt.MinIdleConns, opt.MaxIdleConns = 1, 1, 0, 1
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.MaxRetries = -1
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	opt.ContextTimeoutEnabled = true
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		_ = cn.Do(ctx, "CLIENT", "NO-EVICT", "ON").Err() // 7.0+; older servers refuse, harmlessly
		return nil
	}
	s := &ownRedis{rdb: redis.NewClient(opt), server: opt.Addr + "/" + strconv.Itoa(opt.DB)}
	c := NewRedisDriver(s)
	c.close = s.rdb.Close
	if err := c.with(ctx, func(ctx context.Context, cn *redis.Conn) error { return c.refreshOwnID(ctx, "", cn) }); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("cannot connect to Redis on %s: %s", s.server, collectors.ScrubSecrets(err.Error(), rawURL))
	}
	return c, nil
}

// ownRedis is a RedisSession over a dedicated one-connection client.
type ownRedis struct {
	mu     sync.Mutex
	rdb    *redis.Client
	server string
}

func (s *ownRedis) Server() string { return s.server }

func (s *ownRedis) WithConn(ctx context.Context, fn func(context.Context, *redis.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cn := s.rdb.Conn()
	defer cn.Close()
	return fn(ctx, cn)
}

// cluster is the session's node access when it is a Redis Cluster.
func (c *RedisConn) cluster() (RedisNodeSession, bool) {
	ns, ok := c.sess.(RedisNodeSession)
	return ns, ok && ns.Cluster()
}

// nodes are the nodes a command for every client must run on: the
// cluster's nodes, or "" for the single server.
func (c *RedisConn) nodes() ([]string, error) {
	ns, ok := c.cluster()
	if !ok {
		return []string{""}, nil
	}
	nodes := ns.Nodes()
	if len(nodes) == 0 {
		return nil, fmt.Errorf("the Redis Cluster %s lists no nodes yet; try again after the next sample", c.Server())
	}
	return nodes, nil
}

// with runs fn on the single server's connection.
func (c *RedisConn) with(ctx context.Context, fn func(ctx context.Context, cn *redis.Conn) error) error {
	return c.withNode(ctx, "", fn)
}

// withNode runs fn on the session's connection to node ("" is the single
// server), reading the node's server version once.
func (c *RedisConn) withNode(ctx context.Context, node string, fn func(ctx context.Context, cn *redis.Conn) error) error {
	run := c.sess.WithConn
	if node != "" {
		ns, ok := c.sess.(RedisNodeSession)
		if !ok {
			return fmt.Errorf("%s is a single Redis server, it has no cluster node %s", c.Server(), node)
		}
		run = func(ctx context.Context, fn func(context.Context, *redis.Conn) error) error {
			return ns.WithNodeConn(ctx, node, fn)
		}
	}
	return run(ctx, func(ctx context.Context, cn *redis.Conn) error {
		if c.version(node) == "" {
			if v := serverVersion(ctx, cn); v != "" {
				c.mu.Lock()
				c.versions[node], c.byID[node] = v, versionAtLeast(v, 6, 2)
				c.mu.Unlock()
			}
		}
		return fn(ctx, cn)
	})
}

// version is node's redis_version once known ("" before).
func (c *RedisConn) version(node string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.versions[node]
}

func (c *RedisConn) refreshOwnID(ctx context.Context, node string, cn *redis.Conn) error {
	id, err := cn.ClientID(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLIENT ID: %w", err)
	}
	c.mu.Lock()
	c.ownIDs[node] = id
	c.mu.Unlock()
	return nil
}

func serverVersion(ctx context.Context, cn *redis.Conn) string {
	info, err := cn.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma > major || ma == major && mi >= minor)
}

// Close closes a client DialRedis opened; a borrowed one is left to its
// owner.
func (c *RedisConn) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
}

// Server names the target as host:port/db, never with a password.
func (c *RedisConn) Server() string { return c.sess.Server() }

// OwnID is the connection's client id as of its last use (single server).
func (c *RedisConn) OwnID() int64 { return c.OwnIDOn("") }

// OwnIDOn is the client id of the driver's connection on a cluster node as
// of its last use there ("" is the single server).
func (c *RedisConn) OwnIDOn(node string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownIDs[node]
}

// Clients reads CLIENT LIST, and the own id on the same connection; on a
// Redis Cluster, on every node, each client carrying its node.
func (c *RedisConn) Clients(ctx context.Context) ([]collectors.RedisClient, error) {
	nodes, err := c.nodes()
	if err != nil {
		return nil, err
	}
	var out []collectors.RedisClient
	for _, node := range nodes {
		list, err := c.clientsOn(ctx, node, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// clientsOn reads CLIENT LIST on node, only ids when given (CLIENT LIST
// ID), and the own id on the same connection.
func (c *RedisConn) clientsOn(ctx context.Context, node string, ids []int64) ([]collectors.RedisClient, error) {
	var out []collectors.RedisClient
	err := c.withNode(ctx, node, func(ctx context.Context, cn *redis.Conn) error {
		if err := c.refreshOwnID(ctx, node, cn); err != nil {
			return err
		}
		args, cmd := []any{"CLIENT", "LIST"}, "CLIENT LIST"
		if len(ids) > 0 {
			args, cmd = append(args, "ID"), "CLIENT LIST ID"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		reply, err := cn.Do(ctx, args...).Text()
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		out, err = collectors.ParseClientList(reply)
		return err
	})
	if err != nil && node != "" {
		return nil, fmt.Errorf("list the clients of node %s: %w", node, err)
	}
	for i := range out {
		out[i].Node = node
	}
	return out, err
}

// ClientsByID reads only the given clients of node (CLIENT LIST ID, 6.2+;
// the node's whole list on older servers).
func (c *RedisConn) ClientsByID(ctx context.Context, node string, ids []int64) ([]collectors.RedisClient, error) {
	c.mu.Lock()
	byID := c.byID[node]
	c.mu.Unlock()
	if !byID || len(ids) == 0 {
		return c.clientsOn(ctx, node, nil)
	}
	return c.clientsOn(ctx, node, ids)
}

// Kill closes one client with CLIENT KILL ID on the client's node (SKIPME
// yes: never this connection); false means no such client any more.
func (c *RedisConn) Kill(ctx context.Context, target collectors.RedisClient) (bool, error) {
	var n int64
	err := c.withNode(ctx, target.Node, func(ctx context.Context, cn *redis.Conn) error {
		var err error
		n, err = cn.Do(ctx, "CLIENT", "KILL", "ID", target.ID, "SKIPME", "yes").Int64()
		if err != nil {
			return fmt.Errorf("CLIENT KILL ID %d%s: %w", target.ID, onNode(target.Node), err)
		}
		return nil
	})
	return n > 0, err
}

func onNode(node string) string {
	if node == "" {
		return ""
	}
	return " on node " + node
}

var _ RedisGuardDriver = (*RedisConn)(nil)

// GuardNodes lists the nodes a server-wide setting is changed on: every
// node of a Redis Cluster, masters and replicas; nil for a single server.
func (c *RedisConn) GuardNodes() []string {
	if ns, ok := c.cluster(); ok {
		return ns.Nodes()
	}
	return nil
}

// ConfigGet reads one configuration parameter (single server).
func (c *RedisConn) ConfigGet(ctx context.Context, name string) (string, error) {
	return c.ConfigGetOn(ctx, "", name)
}

// ConfigSet changes one configuration parameter at runtime (single server).
func (c *RedisConn) ConfigSet(ctx context.Context, name, value string) error {
	return c.ConfigSetOn(ctx, "", name, value)
}

// ConfigGetOn reads one configuration parameter on node ("" is the single
// server).
func (c *RedisConn) ConfigGetOn(ctx context.Context, node, name string) (string, error) {
	var v string
	err := c.withNode(ctx, node, func(ctx context.Context, cn *redis.Conn) error {
		m, err := cn.ConfigGet(ctx, name).Result()
		if err != nil {
			return fmt.Errorf("CONFIG GET %s%s: %w (managed Redis may rename or disable CONFIG)", name, onNode(node), err)
		}
		var ok bool
		if v, ok = m[name]; !ok {
			return fmt.Errorf("CONFIG GET %s%s returned nothing", name, onNode(node))
		}
		return nil
	})
	return v, err
}

// ConfigSetOn changes one configuration parameter at runtime on node.
func (c *RedisConn) ConfigSetOn(ctx context.Context, node, name, value string) error {
	return c.withNode(ctx, node, func(ctx context.Context, cn *redis.Conn) error {
		if err := cn.ConfigSet(ctx, name, value).Err(); err != nil {
			return fmt.Errorf("CONFIG SET %s %s%s: %w (managed Redis may rename or disable CONFIG)", name, value, onNode(node), err)
		}
		return nil
	})
}
