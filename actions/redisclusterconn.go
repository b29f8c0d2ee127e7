package actions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/slotwatch/slotwatch/collectors"
)

// Redis Cluster URL schemes, as the collectors read them:
// redis+cluster://[user:password@]host:port[,host:port…] (rediss+cluster://
// for TLS) names seed nodes.
const (
	clusterURLScheme    = "redis+cluster://"
	clusterTLSURLScheme = "rediss+cluster://"
)

// IsClusterURL reports whether rawURL names a Redis Cluster.
func IsClusterURL(rawURL string) bool {
	lower := strings.ToLower(rawURL)
	return strings.HasPrefix(lower, clusterURLScheme) || strings.HasPrefix(lower, clusterTLSURLScheme)
}

// DialRedisCluster opens dedicated connections to a Redis Cluster (one per
// node, made when first used) for the duration of a command (the CLI). The
// URL is redis+cluster:// or rediss+cluster://, or a redis:// URL of any
// one node.
func DialRedisCluster(ctx context.Context, rawURL string) (*RedisConn, error) {
	opt, seeds, err := clusterOptions(rawURL)
	if err != nil {
		return nil, fmt.Errorf("the Redis Cluster URL %s is not valid: %s", collectors.RedactURL(rawURL), scrubPassword(err.Error(), rawURL))
	}
	s := &ownCluster{cl: redis.NewClusterClient(opt), server: strings.Join(seeds, ",") + " (cluster)"}
	c := NewRedisDriver(s)
	c.close = s.cl.Close
	nodes, err := s.nodes(ctx)
	if err == nil && len(nodes) == 0 {
		err = errors.New("it lists no nodes")
	}
	if err != nil {
		_ = s.cl.Close()
		return nil, fmt.Errorf("cannot connect to the Redis Cluster at %s: %s", s.server, scrubPassword(err.Error(), rawURL))
	}
	return c, nil
}

// clusterOptions turns a cluster URL into one connection per node named
// slotwatch, without retries or maintenance notifications, and lists the
// seed nodes.
func clusterOptions(rawURL string) (*redis.ClusterOptions, []string, error) {
	single, seeds, err := splitClusterURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	one, err := redis.ParseURL(single)
	if err != nil {
		return nil, nil, err
	}
	if one.DB != 0 {
		return nil, nil, fmt.Errorf("a Redis Cluster has only database 0, not %d", one.DB)
	}
	if len(seeds) == 0 {
		seeds = []string{one.Addr}
	}
	return &redis.ClusterOptions{
		Addrs: seeds, ClientName: "slotwatch", Username: one.Username, Password: one.Password, TLSConfig: one.TLSConfig,
		PoolSize: 1, MaxActiveConns: 1, MinIdleConns: 0, MaxIdleConns: 1,
		MaxRetries:  -1,
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		ContextTimeoutEnabled:    true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			_ = cn.Do(ctx, "CLIENT", "NO-EVICT", "ON").Err() // 7.0+; older servers refuse, harmlessly
			return nil
		},
	}, seeds, nil
}

// splitClusterURL rewrites a cluster URL as the redis:// (rediss://) URL
// of its first node and lists the nodes' host:port (default port 6379); a
// URL without a cluster scheme is returned as it is.
func splitClusterURL(raw string) (string, []string, error) {
	if !IsClusterURL(raw) {
		return raw, nil, nil
	}
	scheme, rest := "redis://", raw[len(clusterURLScheme):]
	if strings.HasPrefix(strings.ToLower(raw), clusterTLSURLScheme) {
		scheme, rest = "rediss://", raw[len(clusterTLSURLScheme):]
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hosts = authority[:at+1], authority[at+1:]
	}
	var addrs []string
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

// ownCluster is a RedisNodeSession over a dedicated ClusterClient; calls
// are serialised like the collectors' runner's.
type ownCluster struct {
	mu     sync.Mutex
	cl     *redis.ClusterClient
	server string
}

var _ RedisNodeSession = (*ownCluster)(nil)

func (s *ownCluster) Server() string { return s.server }
func (s *ownCluster) Cluster() bool  { return true }

// WithConn refuses: every command of a cluster action names its node.
func (s *ownCluster) WithConn(context.Context, func(context.Context, *redis.Conn) error) error {
	return fmt.Errorf("the Redis Cluster at %s has several nodes; name the node to run on", s.server)
}

// Nodes lists every node, masters and replicas, sorted; nil when the
// cluster cannot be read.
func (s *ownCluster) Nodes() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodes, _ := s.nodes(ctx)
	return nodes
}

func (s *ownCluster) nodes(ctx context.Context) ([]string, error) {
	_, addrs, err := s.node(ctx, "")
	return addrs, err
}

// node finds the client of the node at addr, and lists every node.
func (s *ownCluster) node(ctx context.Context, addr string) (*redis.Client, []string, error) {
	var mu sync.Mutex
	var found *redis.Client
	var addrs []string
	err := s.cl.ForEachShard(ctx, func(_ context.Context, node *redis.Client) error {
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

// WithNodeConn runs fn on a connection to the node at addr.
func (s *ownCluster) WithNodeConn(ctx context.Context, addr string, fn func(context.Context, *redis.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	node, addrs, err := s.node(ctx, addr)
	if err != nil {
		return fmt.Errorf("read the nodes of the Redis Cluster at %s: %w", s.server, err)
	}
	if node == nil {
		return fmt.Errorf("the Redis Cluster at %s has no node %s; its nodes are %s", s.server, addr, strings.Join(addrs, ", "))
	}
	cn := node.Conn()
	defer cn.Close()
	return fn(ctx, cn)
}
