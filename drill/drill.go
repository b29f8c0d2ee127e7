// Package drill reproduces the TalentFlow incident of 2024-01-21 against a
// real PostgreSQL and Redis, for game days, demos and end-to-end tests:
// persistent idle sessions like Django with CONN_MAX_AGE=None, sessions idle
// in transaction holding a row lock others wait on, a Redis client leak like
// redis.from_url per request, and a check-then-insert race that pushes a job
// over its application limit. It works only in a database it created itself
// (marked by a comment) and releases everything it holds when it stops.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of Config.
const (
	DefaultDatabase     = "talentflow_drill"
	DefaultRole         = "talentflow_drill"
	DefaultDuration     = 10 * time.Minute
	DefaultRedisClients = 300
	DefaultRedisEvery   = 500 * time.Millisecond
	DefaultBurst        = 9 // as in the incident: 49 of 50, nine accepted, 58
	DefaultReuseEvery   = 5 * time.Second
	DefaultStatusEvery  = 10 * time.Second

	// AppName is the application_name of the sessions, as TalentFlow's web
	// workers show in pg_stat_activity.
	AppName = "talentflow-web"
	// RedisNamePrefix names leaked clients as the analytics cache does.
	RedisNamePrefix = "analytics-cache-"
	// BurstJob is the job one application below its limit.
	BurstJob = 12345
	// LockedJob is the row the idle-in-transaction blocker keeps locked.
	LockedJob = 20001

	minSessions     = 8    // enough for every kind of session and a burst
	maxSessions     = 2000 // hard bound, whatever the server allows
	maxRedisClients = 5000
)

// Config says what to drill against and how hard.
type Config struct {
	// PGDSN is the server to drill. Its user sets up the drill database and
	// role, so it needs CREATEDB and CREATEROLE (a superuser does).
	PGDSN string
	// Through is a connection pooler (pgbouncer) the application's sessions
	// connect through instead of PostgreSQL itself, as TalentFlow's would:
	// its host, port, TLS settings and database (the pool's name, which must
	// lead to the drill database on the PGDSN server); the user and password
	// are the drill role's. Empty connects the sessions directly. PGDSN
	// still names PostgreSQL itself, for the setup and the lock-wait checks.
	Through string
	// RedisURL is the Redis server to leak clients into; empty skips Redis.
	RedisURL string
	Database string // default DefaultDatabase
	Role     string // default DefaultRole: the application's non-superuser role
	// Connections is how many sessions to hold; 0 scales to 92% of the
	// server's usable slots (max_connections minus reserved ones), as in the
	// incident (92 of 100).
	Connections int
	// Exhaust also takes every remaining non-reserved slot, so the
	// application's new connections fail with "remaining connection slots
	// are reserved".
	Exhaust bool
	// Fixed runs the application burst with SELECT … FOR UPDATE on the job
	// row, as the fix does: the limit holds.
	Fixed        bool
	Duration     time.Duration // default DefaultDuration; negative: until ctx ends
	RedisClients int           // leaked clients, at most; default DefaultRedisClients
	RedisEvery   time.Duration // one new leaked client every; default DefaultRedisEvery
	Burst        int           // concurrent applications; default DefaultBurst
	ReuseEvery   time.Duration // an idle worker serves a request every; default DefaultReuseEvery
	StatusEvery  time.Duration // status line every; default DefaultStatusEvery
	Out          io.Writer     // progress; nil discards
	// Confirm, when set, is told what the drill will take once the server's
	// slots are known and before anything is created or opened; an error
	// (ErrDeclined when a person said no) stops the drill there.
	Confirm func(ctx context.Context, in Intent) error
}

func (c Config) withDefaults() Config {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Role == "" {
		c.Role = DefaultRole
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.RedisClients == 0 {
		c.RedisClients = DefaultRedisClients
	}
	if c.RedisEvery <= 0 {
		c.RedisEvery = DefaultRedisEvery
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.ReuseEvery <= 0 {
		c.ReuseEvery = DefaultReuseEvery
	}
	if c.StatusEvery <= 0 {
		c.StatusEvery = DefaultStatusEvery
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return c
}

// ConfigError is a drill configuration that cannot run as given: the
// caller's input is wrong, not a server (a command exits 2).
type ConfigError struct{ err error }

func (e *ConfigError) Error() string { return e.err.Error() }
func (e *ConfigError) Unwrap() error { return e.err }

func (c Config) validate() error {
	if err := c.check(); err != nil {
		return &ConfigError{err}
	}
	return nil
}

func (c Config) check() error {
	switch {
	case c.PGDSN == "":
		return errors.New("the drill needs a PostgreSQL server DSN to run against")
	case c.Connections != 0 && (c.Connections < minSessions || c.Connections > maxSessions):
		return fmt.Errorf("the drill holds %d sessions; use between %d and %d", c.Connections, minSessions, maxSessions)
	case c.RedisClients < 0 || c.RedisClients > maxRedisClients:
		return fmt.Errorf("the drill leaks at most %d Redis clients; use between 1 and %d", c.RedisClients, maxRedisClients)
	case c.Burst < 0 || c.Burst > 100:
		return fmt.Errorf("the drill's burst of %d concurrent applications is out of range; use between 1 and 100", c.Burst)
	case !validName(c.Database) || !validName(c.Role):
		return errors.New("the drill database and role names may use only lower-case letters, digits and _")
	case c.Through != "" && c.Exhaust:
		return errors.New("exhausting takes PostgreSQL's slots, which sessions through a pooler do not hold; exhaust the server directly or drill through the pooler without it")
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Drill is a running reproduction. Start sets the stage; Wait and Release end it.
type Drill struct {
	cfg    Config
	out    *printer
	server serverInfo
	plan   Plan
	setup  *setup

	ctx    context.Context // ends when the drill is released
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions []*heldConn
	burst    BurstResult
	exhaust  ExhaustResult
	leak     *redisLeak
	released bool
}

// Plan is how many sessions of each kind the drill holds.
type Plan struct {
	MaxConnections int `json:"max_connections"`
	Usable         int `json:"usable"`
	Idle           int `json:"idle"`
	IdleInTx       int `json:"idle_in_transaction"`
	Waiters        int `json:"waiting"`
	Active         int `json:"active"`
}

// Total is the number of sessions planned.
func (p Plan) Total() int { return p.Idle + p.IdleInTx + p.Waiters + p.Active }

// Start creates or resets the drill database, opens the sessions, runs the
// application burst, starts the Redis leak and, with Exhaust, fills the
// remaining slots. It returns once the stage is set; the drill keeps going
// until ctx ends or Release is called.
func Start(ctx context.Context, cfg Config) (*Drill, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Drill{cfg: cfg, out: &printer{w: cfg.Out}}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := d.start(ctx); err != nil {
		d.Release()
		return nil, err
	}
	return d, nil
}

func (d *Drill) start(ctx context.Context) error {
	st, err := prepare(ctx, d.cfg, d.out)
	if err != nil {
		return err
	}
	d.setup, d.server = st, st.server
	d.plan, err = planSessions(d.cfg, st.server)
	if err != nil {
		return err
	}
	held := fmt.Sprintf("%d of %d usable slots (max_connections %d)", d.plan.Total(), d.plan.Usable, d.plan.MaxConnections)
	if d.setup.pooled {
		held = fmt.Sprintf("%d clients of the pooler, in front of %d usable slots (max_connections %d)", d.plan.Total(), d.plan.Usable, d.plan.MaxConnections)
	}
	d.out.printf("plan: %s: %d idle, %d idle in transaction, %d waiting on a row lock, %d active",
		held, d.plan.Idle, d.plan.IdleInTx, d.plan.Waiters, d.plan.Active)
	if d.setup.pooled {
		if err := d.checkRoute(ctx); err != nil {
			return err
		}
	}
	if err := d.openSessions(ctx); err != nil {
		return err
	}
	if d.setup.pooled {
		// Through a pooler the burst runs first, while the pool has server
		// connections: the stage pins them (transactions held open, lock
		// waits), after which every request waits in the pooler.
		if err := d.burstIfAsked(ctx); err != nil {
			return err
		}
		if err := d.stage(ctx); err != nil {
			return err
		}
		d.firstRequests()
	} else {
		if err := d.stage(ctx); err != nil {
			return err
		}
		if err := d.burstIfAsked(ctx); err != nil {
			return err
		}
	}
	if d.cfg.RedisURL != "" {
		leak, err := startRedisLeak(d.ctx, d.cfg, d.out, &d.wg)
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.leak = leak
		d.mu.Unlock()
	}
	if d.cfg.Exhaust {
		d.exhaustSlots(ctx)
	}
	d.wg.Add(2)
	go d.reuseLoop()
	go d.monitorLoop()
	d.out.printf("holding: %s", d.Status())
	return nil
}

func (d *Drill) burstIfAsked(ctx context.Context) error {
	if d.cfg.Burst <= 0 {
		return nil
	}
	bctx, cancel := d.poolWait(ctx)
	defer cancel()
	res, err := d.runBurst(bctx)
	if err != nil {
		return d.poolStarved(ctx, bctx, err, fmt.Sprintf("the application burst of %d", d.cfg.Burst))
	}
	d.mu.Lock()
	d.burst = res
	d.mu.Unlock()
	d.out.printf("burst: %s", res)
	return nil
}

// poolWaitLimit bounds how long a step of the setup that needs server
// connections waits for a pooler to give them.
const poolWaitLimit = 30 * time.Second

// poolWait is ctx, bounded by poolWaitLimit through a pooler.
func (d *Drill) poolWait(ctx context.Context) (context.Context, context.CancelFunc) {
	if !d.setup.pooled {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, poolWaitLimit)
}

// poolStarved turns a step's failure into the sentence saying that the
// pool was too small for it, when that is why it failed.
func (d *Drill) poolStarved(ctx, stepCtx context.Context, err error, what string) error {
	if d.setup.pooled && ctx.Err() == nil && errors.Is(stepCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s got no server connection through the pooler in %s: the pool is smaller than the drill needs; raise its pool size or make the burst smaller", what, poolWaitLimit)
	}
	return err
}

// Run starts the drill and holds it until ctx ends or Duration passes, then
// releases everything.
func Run(ctx context.Context, cfg Config) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	d.Wait(ctx)
	d.Release()
	return nil
}

// Wait blocks until ctx ends or the configured duration has passed.
func (d *Drill) Wait(ctx context.Context) {
	var timeout <-chan time.Time
	if d.cfg.Duration > 0 {
		t := time.NewTimer(d.cfg.Duration)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		d.out.printf("interrupted: releasing everything")
	case <-timeout:
		d.out.printf("%s passed: releasing everything", d.cfg.Duration)
	}
}

// Release closes every session and Redis client the drill holds. The drill
// database stays (it is marked as the drill's own) so the jobs it pushed over
// capacity can still be inspected; the next run resets it.
func (d *Drill) Release() {
	d.mu.Lock()
	if d.released {
		d.mu.Unlock()
		return
	}
	d.released = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	closed := 0
	for _, s := range d.snapshotSessions() {
		if s.close() {
			closed++
		}
	}
	clients := 0
	if d.leak != nil {
		clients = d.leak.closeAll()
	}
	if d.setup != nil {
		d.setup.close()
	}
	if d.plan.Total() > 0 || clients > 0 {
		d.out.printf("released %d PostgreSQL sessions and %d Redis clients", closed, clients)
	}
}

// BurstResult is the outcome of the concurrent applications to BurstJob.
type BurstResult struct {
	Job      int64  `json:"job"`
	Title    string `json:"title"`
	Fixed    bool   `json:"fixed"`
	Before   int64  `json:"before"`
	Limit    int64  `json:"limit"`
	Accepted int    `json:"accepted"`
	Refused  int    `json:"refused"`
	After    int64  `json:"after"`
}

// OverCapacity reports whether the burst pushed the job past its limit.
func (b BurstResult) OverCapacity() bool { return b.After > b.Limit }

func (b BurstResult) String() string {
	head := fmt.Sprintf("%d concurrent applications to job %d %q (%d of %d)", b.Accepted+b.Refused, b.Job, b.Title, b.Before, b.Limit)
	how := "check-then-insert without a row lock"
	if b.Fixed {
		how = "SELECT … FOR UPDATE on the job row"
	}
	verdict := "the limit holds"
	if b.OverCapacity() {
		verdict = fmt.Sprintf("over capacity by %d", b.After-b.Limit)
	}
	return fmt.Sprintf("%s with %s: %d accepted, %d refused → %d of %d, %s", head, how, b.Accepted, b.Refused, b.After, b.Limit, verdict)
}

// ExhaustResult is what --exhaust took and what the server answered.
type ExhaustResult struct {
	Extra    int    `json:"extra"`
	SQLState string `json:"sqlstate"`
	Refusal  string `json:"refusal"`
}

// Status is what the drill holds right now.
type Status struct {
	ByKind        map[string]int `json:"sessions"` // alive sessions per kind
	Gone          int            `json:"gone"`     // sessions terminated from outside
	RedisOpen     int            `json:"redis_open"`
	RedisClosed   int            `json:"redis_closed"` // killed or timed out by the server
	RedisRefused  int            `json:"redis_refused"`
	RedisOpened   int            `json:"redis_opened"`
	Burst         BurstResult    `json:"burst"`
	Exhaust       ExhaustResult  `json:"exhaust"`
	SessionsAlive int            `json:"sessions_alive"`
}

func (s Status) String() string {
	txt := fmt.Sprintf("%d sessions (%d idle, %d idle in transaction, %d waiting on a lock, %d active",
		s.SessionsAlive, s.ByKind[kindIdle], s.ByKind[kindIdleInTx], s.ByKind[kindWaiter], s.ByKind[kindActive])
	if s.Gone > 0 {
		txt += fmt.Sprintf("; %d terminated from outside, not reopened", s.Gone)
	}
	txt += ")"
	if s.RedisOpened > 0 || s.RedisRefused > 0 {
		txt += fmt.Sprintf(", Redis: %d leaked clients open (%d closed by the server, not reopened; %d refused)",
			s.RedisOpen, s.RedisClosed, s.RedisRefused)
	}
	if s.Burst.Job != 0 {
		txt += fmt.Sprintf(", job %d: %d of %d applications", s.Burst.Job, s.Burst.After, s.Burst.Limit)
	}
	return txt
}

// Status reports what the drill holds.
func (d *Drill) Status() Status {
	st := Status{ByKind: map[string]int{}}
	for _, s := range d.snapshotSessions() {
		kind, alive := s.state()
		if !alive {
			st.Gone++
			continue
		}
		st.ByKind[kind]++
		st.SessionsAlive++
	}
	d.mu.Lock()
	st.Burst, st.Exhaust = d.burst, d.exhaust
	leak := d.leak
	d.mu.Unlock()
	if leak != nil {
		st.RedisOpen, st.RedisClosed, st.RedisRefused, st.RedisOpened = leak.counts()
	}
	return st
}

// Plan returns the session plan.
func (d *Drill) Plan() Plan { return d.plan }

// Database is the drill's database name.
func (d *Drill) Database() string { return d.cfg.Database }

func (d *Drill) snapshotSessions() []*heldConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*heldConn(nil), d.sessions...)
}

// printer serialises progress lines from the drill's goroutines.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "drill %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// quoteIdent quotes a name for SQL.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
