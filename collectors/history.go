package collectors

import (
	"math"
	"sort"
	"time"

	"github.com/slotwatch/slotwatch/internal/ring"
)

// Point is the small per-snapshot summary kept in history: enough for
// sparklines, alert `for` windows and growth findings, without keeping every
// session of every snapshot.
type Point struct {
	At            time.Time
	PGOK          bool // a PostgreSQL sample was present and fresh
	PGTotal       int  // sessions listed (slotwatch's own left out)
	PGUsed        int  // slots taken, slotwatch's own included
	PGUsable      int
	PGMax         int
	PGByState     map[string]int
	PGWaiting     int
	ProbeRan      bool
	ProbeOK       bool
	ProbeSQLState string
	ProbeMS       float64
	RedisOK       bool
	RedisClients  int64
	RedisMax      int64
	RedisRejected int64
	RedisReceived int64
	// RedisGroups counts clients per RedisGroup.Key().
	RedisGroups  map[string]int
	OverCapacity int
	// PoolerOK: a pgbouncer sample was present and fresh; PoolerWaiting
	// is cl_waiting summed over the pools, PoolerMaxWait the longest
	// wait in seconds.
	PoolerOK      bool
	PoolerWaiting int
	PoolerMaxWait float64
	// PGFailed, RedisFailed and PoolerFailed: the source is watched and
	// its sample failed (an outage), as against one that is not watched.
	PGFailed, RedisFailed, PoolerFailed bool
}

// Key identifies a Redis group across snapshots.
func (g *RedisGroup) Key() string { return g.Host + "|" + g.Name + "|" + g.LibName }

// PointOf summarises a snapshot.
func PointOf(s Snapshot) Point {
	p := pointWithoutGroups(s)
	if s.Redis != nil {
		p.RedisGroups = redisGroupCounts(s.Redis)
	}
	return p
}

func redisGroupCounts(r *RedisStats) map[string]int {
	out := make(map[string]int, len(r.Groups))
	for i := range r.Groups {
		out[r.Groups[i].Key()] = r.Groups[i].Count
	}
	return out
}

// pointWithoutGroups is PointOf but for RedisGroups, the one part that
// costs memory per point.
func pointWithoutGroups(s Snapshot) Point {
	p := Point{At: s.TakenAt}
	p.PGFailed = s.Errors[SourcePostgres] != ""
	p.RedisFailed = s.Errors[SourceRedis] != ""
	p.PoolerFailed = s.Errors[SourcePgBouncer] != ""
	if pg := s.Postgres; pg != nil {
		_, failed := s.Errors[SourcePostgres]
		p.PGOK = !failed
		p.PGUsed = pg.Used()
		p.PGTotal, p.PGUsable, p.PGMax, p.PGWaiting = pg.Total, pg.Usable(), pg.MaxConnections, pg.Waiting
		p.PGByState = pg.ByState
	}
	if pr := s.Probe; pr != nil {
		p.ProbeRan, p.ProbeOK, p.ProbeSQLState, p.ProbeMS = true, pr.OK, pr.SQLState, pr.ConnectMS
	}
	if r := s.Redis; r != nil {
		_, failed := s.Errors[SourceRedis]
		p.RedisOK = !failed
		p.RedisClients, p.RedisMax = r.ConnectedClients, r.MaxClients
		p.RedisRejected, p.RedisReceived = r.RejectedConnections, r.TotalConnectionsReceived
	}
	if b := s.PgBouncer; b != nil {
		_, failed := s.Errors[SourcePgBouncer]
		p.PoolerOK = !failed
		p.PoolerWaiting, p.PoolerMaxWait = b.Waiting(), b.MaxWaitSeconds()
	}
	if j := s.Jobs; j != nil {
		p.OverCapacity = len(j.OverCapacity)
	}
	return p
}

// History keeps the recent Points of one watch session.
type History struct {
	points *ring.Ring[Point]
	// span, when set, is the time the history must cover: a full ring
	// whose oldest point is younger grows (several servers of a kind
	// sample more often than their intervals say), up to limit points.
	span  time.Duration
	limit int
	// The snapshots between two Redis samples share the sample's struct:
	// their points share one RedisGroups map instead of a copy each.
	lastRedis  *RedisStats
	lastGroups map[string]int
	// keys interns the group keys: an hour of samples of the same groups
	// holds each key once, not once a sample.
	keys map[string]string
}

// NewHistory keeps at most capacity points (CapacityFor says how many an
// hour takes).
func NewHistory(capacity int) *History { return &History{points: ring.New[Point](capacity)} }

// CapacityFor is how many points cover span when the sources sample at
// intervals (seconds by source, Snapshot.IntervalSeconds): every sample of
// every source makes a snapshot, so an hour of PostgreSQL, Redis and
// pgbouncer at 1 s is three points a second, not one. Without intervals
// (an older recording) it assumes one source at DefaultInterval.
func CapacityFor(span time.Duration, intervals map[string]float64) int {
	perSecond := 0.0
	for _, sec := range intervals {
		if sec > 0 {
			perSecond += 1 / sec
		}
	}
	if perSecond == 0 {
		perSecond = 1 / DefaultInterval.Seconds()
	}
	// one more point per source: a span holds both of its ends
	return max(1, int(math.Ceil(span.Seconds()*perSecond))+len(intervals)+1)
}

// historyGrowth bounds how far a spanned history grows past the points
// its intervals predict: a fleet of up to that many servers of each kind
// still gets its whole span.
const historyGrowth = 8

// NewHistoryFor keeps span of history at the sources' intervals
// (Snapshot.IntervalSeconds): CapacityFor points to start with, more when
// snapshots come faster (several servers of a kind share one interval
// entry), up to historyGrowth times that.
func NewHistoryFor(span time.Duration, intervals map[string]float64) *History {
	c := CapacityFor(span, intervals)
	return &History{points: ring.New[Point](c), span: span, limit: historyGrowth * c}
}

// Cap is the most points the history keeps now.
func (h *History) Cap() int { return h.points.Cap() }

// Add records a snapshot's summary and returns it.
func (h *History) Add(s Snapshot) Point {
	p := pointWithoutGroups(s)
	if s.Redis != nil {
		if s.Redis != h.lastRedis {
			h.lastRedis, h.lastGroups = s.Redis, h.internedGroupCounts(s.Redis)
		}
		p.RedisGroups = h.lastGroups
	}
	h.Push(p)
	return p
}

// internedGroupCounts is redisGroupCounts with the keys interned. The
// table is dropped when it outgrows the groups seen, so hosts that come
// and go do not make it grow without bound.
func (h *History) internedGroupCounts(r *RedisStats) map[string]int {
	if h.keys == nil || len(h.keys) > 4*len(r.Groups)+1024 {
		h.keys = make(map[string]string, len(r.Groups))
	}
	out := make(map[string]int, len(r.Groups))
	for i := range r.Groups {
		k := r.Groups[i].Key()
		if interned, ok := h.keys[k]; ok {
			k = interned
		} else {
			h.keys[k] = k
		}
		out[k] = r.Groups[i].Count
	}
	return out
}

// Push records a point summarised elsewhere (the dashboard's timeline
// keeps the points of the frames it receives). Its maps are shared, never
// modified.
func (h *History) Push(p Point) {
	r := h.points
	if h.span > 0 && r.Len() == r.Cap() && r.Cap() < h.limit && p.At.Sub(r.At(0).At) < h.span {
		r.Grow(min(2*r.Cap(), h.limit))
	}
	r.Push(p)
}

// Last returns the newest point.
func (h *History) Last() (Point, bool) { return h.points.Last() }

// Len is the number of points held.
func (h *History) Len() int { return h.points.Len() }

// At returns the i-th point, 0 being the oldest.
func (h *History) At(i int) Point { return h.points.At(i) }

// Tail copies the newest n points, oldest first.
func (h *History) Tail(n int) []Point { return h.points.Tail(n) }

// Range calls fn with every point taken in [from, to], oldest first, in
// place: a chart over an hour copies none of it. fn must neither modify
// nor keep the point.
func (h *History) Range(from, to time.Time, fn func(p *Point)) {
	n := h.points.Len()
	lo := sort.Search(n, func(i int) bool { return !h.points.Ref(i).At.Before(from) })
	for i := lo; i < n; i++ {
		p := h.points.Ref(i)
		if p.At.After(to) {
			return
		}
		fn(p)
	}
}

// Since copies the points taken at or after t, oldest first.
func (h *History) Since(t time.Time) []Point {
	i := h.points.Len()
	for i > 0 && !h.points.At(i-1).At.Before(t) {
		i--
	}
	return h.points.Tail(h.points.Len() - i)
}

// RedisGroupGrowth is the summed client count change per minute of the Redis
// groups named by keys (RedisGroup.Key) over trend; ok is false with less
// than half a minute of Redis history. The dashboard's /MIN column and the
// /metrics growth series both read it, so they agree.
func RedisGroupGrowth(trend []Point, keys ...string) (perMinute float64, ok bool) {
	first, last := -1, -1
	for i := range trend {
		if trend[i].RedisOK && trend[i].RedisGroups != nil {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0, false
	}
	span := trend[last].At.Sub(trend[first].At)
	if span < 30*time.Second {
		return 0, false
	}
	delta := 0
	for _, k := range keys {
		delta += trend[last].RedisGroups[k] - trend[first].RedisGroups[k]
	}
	return float64(delta) / span.Minutes(), true
}
