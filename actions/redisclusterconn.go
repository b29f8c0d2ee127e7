package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/collectors"
)

// IsClusterURL reports whether rawURL names a Redis Cluster
// (redis+cluster://, rediss+cluster://).
func IsClusterURL(rawURL string) bool { return collectors.IsClusterURL(rawURL) }

// DialRedisCluster opens dedicated connections to a Redis Cluster (one per
// node, made when first used) for the duration of a command (the CLI). The
// URL is redis+cluster:// or rediss+cluster://, or a redis:// URL of any
// one node. The options are the collectors' (collectors.ClusterOptions), so
// the cluster is named as the dashboard's runner names it.
func DialRedisCluster(ctx context.Context, rawURL string) (*RedisConn, error) {
	opt, err := collectors.ClusterOptions(rawURL, 5*time.Second)
	if err != nil {
		return nil, err
	}
	s := &ownCluster{cl: redis.NewClusterClient(opt), server: strings.Join(opt.Addrs, ",") + " (cluster)"}
	c := NewRedisDriver(s)
	c.close = s.cl.Close
	nodes, err := s.nodes(ctx)
	if err == nil && len(nodes) == 0 {
		err = errors.New("it lists no nodes")
	}
	if err != nil {
		_ = s.cl.Close()
		return nil, fmt.Errorf("cannot connect to the Redis Cluster at %s: %s", s.server, collectors.ScrubSecrets(err.Error(), rawURL))
	}
	return c, nil
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
	return collectors.ClusterNode(ctx, s.cl, addr)
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
