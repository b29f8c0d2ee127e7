package collectors

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// clientsPerListStep and maxClientListEvery shape the adaptive CLIENT LIST
// interval: CLIENT LIST grows with the clients (megabytes and milliseconds of Redis time at thousands),
// so it is read once per base interval per started thousand clients, and at
// least every 30 s.
const (
	clientsPerListStep = 1000
	maxClientListEvery = 30 * time.Second
)

// ClientListEvery is how often CLIENT LIST is read when Redis has
// connected clients and INFO is read every base.
func ClientListEvery(connected int64, base time.Duration) time.Duration {
	steps := (connected + clientsPerListStep - 1) / clientsPerListStep
	every := base * time.Duration(max(steps, 1))
	return max(min(every, maxClientListEvery), base)
}

type redisCollector struct {
	// mu serialises collection with RedisRunner.WithConn on the one
	// pooled connection.
	mu       sync.Mutex
	stopped  bool
	cfg      RedisConfig
	target   string
	password string
	client   *redis.Client
	lastGood *RedisStats
	// clients, groups and listAt are those of the last CLIENT LIST, reused
	// between adaptive reads.
	clients []RedisClient
	groups  []RedisGroup
	listAt  time.Time
	own     int // slotwatch's own clients in the last CLIENT LIST
}

func newRedisCollector(cfg RedisConfig) *redisCollector {
	c := &redisCollector{cfg: cfg, target: RedactURL(cfg.URL)}
	if opt, err := parseRedisOptions(cfg.URL, cfg.Timeout); err == nil {
		c.target = scrub(fmt.Sprintf("%s/%d", opt.Addr, opt.DB), secretsOf(cfg.URL)...)
		c.password = opt.Password
		c.client = redis.NewClient(opt)
	}
	return c
}

// parseRedisOptions pins the client to one connection named slotwatch and
// turns off what OSS Redis rejects (maintenance notifications) and retries
// (the next tick is the retry).
func parseRedisOptions(rawURL string, timeout time.Duration) (*redis.Options, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, invalidTarget("Redis target", rawURL, err)
	}
	opt.ClientName = "slotwatch"
	opt.PoolSize, opt.MaxActiveConns, opt.MinIdleConns, opt.MaxIdleConns = 1, 1, 0, 1
	opt.PipelinePoolSize = -1
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	timeout = orDuration(timeout, defaultRedisTimeout)
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	opt.ContextTimeoutEnabled = true
	opt.Dialer = boundedDialer(timeout, opt.TLSConfig)
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		// Keep the console's connection out of client eviction (7.0+);
		// older servers refuse the command, which changes nothing.
		_ = cn.Do(ctx, "CLIENT", "NO-EVICT", "ON").Err()
		return nil
	}
	return opt, nil
}

func (c *redisCollector) interval() time.Duration { return c.cfg.Interval }

// close leaves the client to the Set, which shuts it down once collection
// stopped.
func (c *redisCollector) close() {}

func (c *redisCollector) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.client != nil {
		_ = c.client.Close()
	}
}

func (c *redisCollector) collect(ctx context.Context) func(*Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	stats, err := c.sample(ctx, now)
	return recordRedis(now, stats, err, &c.lastGood, c.password)
}

// recordRedis says how one Redis sample (a server's or a whole cluster's)
// is recorded and remembers the last good one. With no stats the sample
// failed: the last good stats are kept, re-stamped, or nil when Redis never
// answered (contract C3). With stats and an error the sample is partial
// (INFO answered but CLIENT LIST did not, or some cluster nodes did not):
// the numbers are fresh and the error says what is missing.
func recordRedis(now time.Time, stats *RedisStats, err error, lastGood **RedisStats, password string) func(*Snapshot) {
	if stats == nil {
		msg := scrub(err.Error(), password)
		var last *RedisStats
		if *lastGood != nil {
			st := **lastGood
			st.SampledAt = now
			last = &st
		}
		return func(s *Snapshot) {
			s.Redis = last
			s.Errors[SourceRedis] = msg
		}
	}
	*lastGood = stats
	if err != nil {
		msg := scrub(err.Error(), password)
		return func(s *Snapshot) {
			s.Redis = stats
			s.Errors[SourceRedis] = msg
		}
	}
	return func(s *Snapshot) {
		s.Redis = stats
		delete(s.Errors, SourceRedis)
	}
}

func (c *redisCollector) sample(ctx context.Context, now time.Time) (*RedisStats, error) {
	if c.client == nil {
		return nil, fmt.Errorf("the Redis target %s is not valid; fix it in the configuration", c.target)
	}
	every := c.cfg.Interval
	if c.lastGood != nil {
		every = ClientListEvery(c.lastGood.ConnectedClients, c.cfg.Interval)
	}
	// A little slack so that a tick arriving a few ms early still lists.
	listDue := c.listAt.IsZero() || now.Sub(c.listAt) >= every-every/10
	info, ownID, list, listErr, err := c.fetch(ctx, listDue)
	if err != nil {
		return nil, c.redisFailed(err)
	}
	st := &RedisStats{Sample: Sample{SampledAt: now, LastGoodAt: now}, Target: c.target}
	parseInfo(info, st)
	var partial error
	if listErr != nil {
		partial = fmt.Errorf("Redis at %s refused CLIENT LIST (%v); the client groups are not current: allow the monitoring user +client|list and +client|id", c.target, listErr)
		listDue = false
	}
	if listDue {
		clients, err := ParseClientList(list)
		if err != nil {
			return nil, fmt.Errorf("cannot read CLIENT LIST of Redis at %s: %w", c.target, err)
		}
		c.clients = withoutClient(clients, ownID)
		c.own = len(clients) - len(c.clients)
		c.groups = GroupRedisClients(c.clients)
		c.listAt = now
	}
	st.Clients, st.Groups, st.ClientsSampledAt, st.OwnConnections = c.clients, c.groups, c.listAt, c.own
	st.ClientListEverySeconds = ClientListEvery(st.ConnectedClients, c.cfg.Interval).Seconds()
	return st, partial
}

// fetch reads INFO and, when due, CLIENT ID and CLIENT LIST in one round
// trip on the one connection.
func (c *redisCollector) fetch(ctx context.Context, withList bool) (info string, ownID int64, list string, listErr, err error) {
	return fetchInfoAndList(ctx, c.client, withList)
}

// fetchInfoAndList reads INFO and, when withList, CLIENT ID and CLIENT
// LIST in one round trip on client's one connection (the cluster collector
// runs it on each node). listErr is a refusal of the CLIENT commands (an
// ACL without them) when INFO itself answered.
func fetchInfoAndList(ctx context.Context, client *redis.Client, withList bool) (info string, ownID int64, list string, listErr, err error) {
	if !withList {
		info, err = client.Info(ctx).Result()
		return info, 0, "", nil, err
	}
	var (
		infoCmd *redis.StringCmd
		idCmd   *redis.IntCmd
		listCmd *redis.StringCmd
	)
	_, err = client.Pipelined(ctx, func(p redis.Pipeliner) error {
		infoCmd = p.Info(ctx)
		idCmd = p.ClientID(ctx)
		listCmd = p.ClientList(ctx)
		return nil
	})
	listErr = errors.Join(idCmd.Err(), listCmd.Err())
	switch {
	case infoCmd.Err() != nil:
		return "", 0, "", nil, infoCmd.Err()
	case err != nil && listErr == nil:
		// A failure to connect (or to AUTH) is not recorded on the commands.
		return "", 0, "", nil, err
	}
	return infoCmd.Val(), idCmd.Val(), listCmd.Val(), listErr, nil
}

// tlsHandshakeError is a TLS handshake that failed or timed out: most often
// rediss:// against a plaintext Redis, which waits for more bytes forever.
type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *tlsHandshakeError) Unwrap() error { return e.err }

// boundedDialer dials and, for rediss://, shakes hands within timeout in
// all, whatever the caller's context allows.
func boundedDialer(timeout time.Duration, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || tlsConfig == nil {
			return conn, err
		}
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &tlsHandshakeError{err: err}
		}
		return tc, nil
	}
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

func (c *redisCollector) redisFailed(err error) error {
	return redisFailure(c.target, c.cfg.Timeout, err)
}

// redisFailure is the sentence for a failed command on the Redis server
// (or cluster node) at target.
func redisFailure(target string, timeout time.Duration, err error) error {
	var tlsErr *tlsHandshakeError
	if errors.As(err, &tlsErr) {
		return fmt.Errorf("no TLS handshake with Redis at %s within %s (%v); if that Redis does not speak TLS, use redis:// instead of rediss://", target, timeout, tlsErr.err)
	}
	if isTimeout(err) {
		return fmt.Errorf("Redis at %s did not answer in time; check the Redis target and that the server is up", target)
	}
	msg := err.Error()
	if redis.IsMaxClientsError(err) {
		return fmt.Errorf("Redis at %s refuses new connections: max number of clients reached; slotwatch keeps its connection once it has one, so start it before the limit is hit or raise maxclients", target)
	}
	if closedByPeer(err) {
		return fmt.Errorf("Redis at %s closed slotwatch's connection (%s), as it does when maxclients is reached; check connected_clients against maxclients with redis-cli INFO clients", target, msg)
	}
	return fmt.Errorf("cannot read from Redis at %s: %s; check the Redis target and that the server is up", target, msg)
}

// withoutClient drops slotwatch's own connection, as the PostgreSQL
// collector drops its own backend.
func withoutClient(clients []RedisClient, id int64) []RedisClient {
	for i := range clients {
		if clients[i].ID == id {
			return slices.Delete(clients, i, i+1)
		}
	}
	return clients
}

// parseInfo reads the INFO fields slotwatch shows.
func parseInfo(info string, st *RedisStats) {
	for line := range strings.Lines(info) {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(value, 10, 64)
		switch key {
		case "redis_version":
			st.ServerVersion = value
		case "connected_clients":
			st.ConnectedClients = n
		case "maxclients":
			st.MaxClients = n
		case "blocked_clients":
			st.BlockedClients = n
		case "rejected_connections":
			st.RejectedConnections = n
		case "total_connections_received":
			st.TotalConnectionsReceived = n
		}
	}
}

// RedisRunner runs commands on the Redis collector's own client connection
// (contract C2): c for a single server, cl for a Redis Cluster (one
// connection per node, WithNodeConn).
type RedisRunner struct {
	c  *redisCollector
	cl *clusterCollector
}

// WithConn runs fn on the collector's connection between two ticks. A
// connection that Redis closed (CLIENT KILL, a restart) is found by a PING
// first and replaced. fn must leave the connection as it found it (name,
// selected database): the collector goes on using it.
func (r *RedisRunner) WithConn(ctx context.Context, fn func(ctx context.Context, conn *redis.Conn) error) error {
	if r == nil || (r.c == nil && r.cl == nil) {
		return errors.New("no Redis target is configured")
	}
	if r.cl != nil {
		return fmt.Errorf("Redis at %s is a cluster; name the node to run on (one of %s)", r.cl.target, strings.Join(r.Nodes(), ", "))
	}
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
		return fmt.Errorf("%w from Redis at %s", errStopped, c.target)
	case c.client == nil:
		return fmt.Errorf("the Redis target %s is not valid", c.target)
	}
	if err := pingReconnect(ctx, c.client); err != nil {
		return c.redisFailed(err)
	}
	conn := c.client.Conn()
	defer conn.Close()
	return fn(ctx, conn)
}

// Server is the connection's target as host:port/db, without secrets.
func (r *RedisRunner) Server() string {
	switch {
	case r == nil:
		return ""
	case r.cl != nil:
		return r.cl.target
	case r.c != nil:
		return r.c.target
	}
	return ""
}

// closedByPeer tells a connection Redis closed (as at maxclients, or by
// CLIENT KILL) from other failures.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// connectionLost is any failure of the connection itself rather than an
// answer of the server.
func connectionLost(err error) bool {
	var netErr net.Error
	return closedByPeer(err) || errors.Is(err, net.ErrClosed) || errors.As(err, &netErr)
}
