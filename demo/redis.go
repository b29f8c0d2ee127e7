package demo

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// The simulated Redis server. The analytics host opens a client per request
// (redis.from_url) and never closes it: connected clients climb 45 → 78 →
// 112 → 156 → 192 over the first simulated hour, as in the incident, then
// keep climbing 2.4 a minute. maxclients is 200 (a small managed instance),
// so a little after the hour Redis starts rejecting connections. Killing
// leaked clients is relief, not a fix: the leak keeps opening new ones.
const (
	redisTarget     = "demo-redis:6379/0"
	redisVersion    = "7.2.4"
	redisMaxClients = 200
	// pooled web clients (django-redis, one shared pool per pod) plus
	// slotwatch's one connection (the collector's, which actions borrow):
	// the clients that are not leaked.
	pooledClients = 10
	steadyClients = pooledClients + 1
)

// leakCurve is connected clients over simulated minutes since Start, as
// in the incident's "Redis Connection Count Over Time"; the leak began 15
// minutes before Start and continues at the last slope after the hour.
var leakCurve = []struct{ min, clients float64 }{
	{-15, steadyClients}, {0, 45}, {15, 78}, {30, 112}, {45, 156}, {60, 192},
}

const leakSlopeAfter = (192.0 - 156.0) / 15 // clients per minute

// leakOpenedBy is how many leaked clients the application has opened by
// simulated offset t.
func leakOpenedBy(t time.Duration) int {
	m := t.Minutes()
	first, last := leakCurve[0], leakCurve[len(leakCurve)-1]
	if m <= first.min {
		return 0
	}
	c := last.clients + (m-last.min)*leakSlopeAfter
	for i := 1; i < len(leakCurve); i++ {
		a, b := leakCurve[i-1], leakCurve[i]
		if m <= b.min {
			c = a.clients + (m-a.min)*(b.clients-a.clients)/(b.min-a.min)
			break
		}
	}
	return int(math.Floor(c - steadyClients + 1e-9))
}

// leakOpenedAt is when the k-th (0-based) leaked client was opened: the
// inverse of leakOpenedBy.
func leakOpenedAt(k int) time.Duration {
	target := float64(steadyClients + k + 1)
	last := leakCurve[len(leakCurve)-1]
	m := last.min + (target-last.clients)/leakSlopeAfter
	for i := 1; i < len(leakCurve); i++ {
		a, b := leakCurve[i-1], leakCurve[i]
		if target <= b.clients {
			m = a.min + (target-a.clients)*(b.min-a.min)/(b.clients-a.clients)
			break
		}
	}
	return time.Duration(m * float64(time.Minute)).Round(time.Millisecond)
}

type redisClient struct {
	id      int64
	addr    string
	name    string
	lib     string
	libVer  string
	created time.Time
	lastCmd time.Time
	cmd     string
	// pooled clients are busy: their last command is always recent.
	pooled bool
	// collector is slotwatch's collector connection, which the collector
	// leaves out of CLIENT LIST.
	collector bool
}

type redisServer struct {
	rnd        *source
	clients    []*redisClient // by id
	nextID     int64
	received   int64
	rejected   int64
	leakOpened int
	leakHost   string
	driverID   int64
	// timeout closes clients idle longer than it (CONFIG SET timeout); 0 off.
	timeout time.Duration
}

func newRedisServer(rnd *source, now time.Time, pods []string) *redisServer {
	r := &redisServer{rnd: rnd, leakHost: fmt.Sprintf("10.0.4.%d", rnd.intn(20, 90))}
	var cs []*redisClient
	for i := range pooledClients {
		cs = append(cs, &redisClient{addr: fmt.Sprintf("%s:%d", pods[i%len(pods)], rnd.intn(33000, 60000)),
			lib: "redis-py", libVer: "5.0.1", created: now.Add(-rnd.duration(2*time.Hour, 6*time.Hour)), pooled: true})
	}
	cs = append(cs, &redisClient{addr: fmt.Sprintf("10.0.9.5:%d", rnd.intn(33000, 60000)), name: "slotwatch",
		lib: "go-redis(,go1.26.8)", libVer: "9.23.0", created: now.Add(-rnd.duration(2*time.Minute, 5*time.Minute)),
		cmd: "client|list", collector: true})
	slices.SortFunc(cs, func(a, b *redisClient) int { return a.created.Compare(b.created) })
	r.nextID = int64(rnd.intn(4000, 9000))
	for _, c := range cs {
		r.nextID += int64(rnd.intn(1, 400))
		c.id, c.lastCmd = r.nextID, now
		if c.collector {
			r.driverID = c.id // actions borrow the collector's connection
		}
	}
	r.clients = cs
	r.received = int64(rnd.intn(20000, 30000))
	r.advance(0, now)
	return r
}

// advance opens the leaked clients due by offset t from start; past
// maxclients, Redis rejects them.
func (r *redisServer) advance(t time.Duration, start time.Time) {
	for due := leakOpenedBy(t); r.leakOpened < due; r.leakOpened++ {
		k := r.leakOpened
		if len(r.clients) >= redisMaxClients {
			r.rejected++
			continue
		}
		r.received++
		r.nextID += 1 + int64(r.rnd.at(40, uint64(k), 2))
		created := start.Add(leakOpenedAt(k))
		r.clients = append(r.clients, &redisClient{
			id:      r.nextID,
			addr:    fmt.Sprintf("%s:%d", r.leakHost, 32768+r.rnd.at(28000, uint64(k), 3)),
			name:    fmt.Sprintf("analytics-cache-%d", k+1),
			lib:     "redis-py",
			libVer:  "5.0.1",
			created: created,
			lastCmd: created.Add(time.Duration(3+r.rnd.at(40, uint64(k), 4)) * time.Millisecond),
			cmd:     "get",
		})
	}
	r.expire(start.Add(t))
}

// expire closes the clients idle longer than the timeout, as Redis's client
// cron does; slotwatch's connections and the pooled clients are never idle
// that long.
func (r *redisServer) expire(now time.Time) {
	if r.timeout <= 0 {
		return
	}
	r.clients = slices.DeleteFunc(r.clients, func(c *redisClient) bool {
		return !c.pooled && c.name != "slotwatch" && now.Sub(c.lastCmd) > r.timeout
	})
}

func (r *redisServer) find(id int64) int {
	i, ok := slices.BinarySearchFunc(r.clients, id, func(c *redisClient, id int64) int { return cmp.Compare(c.id, id) })
	if !ok {
		return -1
	}
	return i
}

// kill closes a client like CLIENT KILL ID … SKIPME yes: the caller's own
// connection is never killed. A killed collector connection reconnects
// under a new id, as the real collector would.
func (r *redisServer) kill(id int64, now time.Time) bool {
	i := r.find(id)
	if i < 0 || id == r.driverID {
		return false
	}
	c := r.clients[i]
	r.clients = slices.Delete(r.clients, i, i+1)
	if c.collector {
		r.nextID++
		r.received++
		c.id, c.created, c.lastCmd = r.nextID, now, now
		r.clients = append(r.clients, c)
	}
	return true
}

// list is CLIENT LIST at now; withCollector includes the collector's own
// connection (the actions driver sees it, the collector drops it).
func (r *redisServer) list(now time.Time, withCollector bool) []collectors.RedisClient {
	out := make([]collectors.RedisClient, 0, len(r.clients))
	for _, c := range r.clients {
		if c.collector && !withCollector {
			continue
		}
		out = append(out, c.render(now, r.rnd))
	}
	return out
}

func (c *redisClient) render(now time.Time, rnd *source) collectors.RedisClient {
	last, cmd := c.lastCmd, c.cmd
	if c.pooled {
		sec := uint64(now.Unix())
		last = now.Add(-time.Duration(rnd.at(4000, sec, uint64(c.id))) * time.Millisecond)
		cmd = [...]string{"get", "setex", "get", "mget"}[rnd.at(4, sec, uint64(c.id), 5)]
	}
	if c.name == "slotwatch" {
		last = now
	}
	rc := collectors.RedisClient{
		ID: c.id, Addr: c.addr, Name: c.name, LibName: c.lib,
		AgeSeconds: int64(now.Sub(c.created) / time.Second), IdleSeconds: int64(now.Sub(last) / time.Second),
		Cmd: cmd, Flags: "N",
	}
	rc.Raw = fmt.Sprintf("id=%d addr=%s laddr=10.0.2.7:6379 fd=%d name=%s age=%d idle=%d flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1928 events=r cmd=%s user=default redir=-1 resp=2 lib-name=%s lib-ver=%s",
		c.id, c.addr, 8+c.id%10000, c.name, rc.AgeSeconds, rc.IdleSeconds, cmd, c.lib, c.libVer)
	return rc
}

func (r *redisServer) stats(now time.Time) *collectors.RedisStats {
	clients := r.list(now, false)
	connected := int64(len(r.clients))
	// Like the real collector, every connection of slotwatch is left out
	// of the clients and groups and counted apart: the server counts them.
	own := 0
	clients = slices.DeleteFunc(clients, func(c collectors.RedisClient) bool {
		if c.Name == "slotwatch" {
			own++
			return true
		}
		return false
	})
	return &collectors.RedisStats{
		Sample:                   collectors.Sample{SampledAt: now, LastGoodAt: now},
		Target:                   redisTarget,
		ServerVersion:            redisVersion,
		ConnectedClients:         connected,
		MaxClients:               redisMaxClients,
		RejectedConnections:      r.rejected,
		TotalConnectionsReceived: r.received,
		ClientsSampledAt:         now,
		ClientListEverySeconds:   collectors.ClientListEvery(connected, time.Second).Seconds(),
		OwnConnections:           own + 1, // the collector's, which CLIENT LIST already leaves out
		Clients:                  clients,
		Groups:                   collectors.GroupRedisClients(clients),
	}
}
