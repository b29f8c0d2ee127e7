package collectors

import (
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
}

// Key identifies a Redis group across snapshots.
func (g *RedisGroup) Key() string { return g.Host + "|" + g.Name + "|" + g.LibName }

// PointOf summarises a snapshot.
func PointOf(s Snapshot) Point {
	p := Point{At: s.TakenAt}
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
		p.RedisGroups = make(map[string]int, len(r.Groups))
		for i := range r.Groups {
			p.RedisGroups[r.Groups[i].Key()] = r.Groups[i].Count
		}
	}
	if j := s.Jobs; j != nil {
		p.OverCapacity = len(j.OverCapacity)
	}
	return p
}

// History keeps the recent Points of one watch session.
type History struct {
	points *ring.Ring[Point]
}

// NewHistory keeps at most capacity points (e.g. 3600 = one hour at 1 s).
func NewHistory(capacity int) *History { return &History{points: ring.New[Point](capacity)} }

// Add records a snapshot's summary and returns it.
func (h *History) Add(s Snapshot) Point {
	p := PointOf(s)
	h.points.Push(p)
	return p
}

// Len is the number of points held.
func (h *History) Len() int { return h.points.Len() }

// At returns the i-th point, 0 being the oldest.
func (h *History) At(i int) Point { return h.points.At(i) }

// Tail copies the newest n points, oldest first.
func (h *History) Tail(n int) []Point { return h.points.Tail(n) }

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
