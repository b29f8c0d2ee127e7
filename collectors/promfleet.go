package collectors

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"text/template"
	"time"
)

// SourcePromFleet is the Snapshot.Errors key of the fleet read from
// Prometheus.
const SourcePromFleet = "fleet_prometheus"

// Defaults of the fleet source.
const (
	// DefaultPromFleetInterval matches a usual scrape interval: asking
	// more often returns the same samples.
	DefaultPromFleetInterval = 15 * time.Second
	defaultPromFleetWindow   = 15 * time.Minute
	defaultPromFleetPoints   = 60
	// promFleetGoneKeep is how long an instance whose series vanished is
	// still listed as gone before it is dropped.
	promFleetGoneKeep = 30 * time.Minute
	// minPromFleetStale is the least age at which an instance's newest
	// sample counts as stale, for scrape intervals longer than ours.
	minPromFleetStale = time.Minute
)

// DefaultPromFleetGroupBy are the labels teams usually put on targets.
var DefaultPromFleetGroupBy = []string{"cluster", "region", "instance"}

// PromFleetConfig reads every instance of the fleet from a
// Prometheus-compatible HTTP API (Prometheus, Thanos Query, Mimir).
type PromFleetConfig struct {
	URL      string        // base URL, e.g. http://prometheus:9090
	Interval time.Duration // default 15s
	Timeout  time.Duration // per query, default 10s
	// GroupBy are the labels the fleet is grouped by, in order.
	GroupBy []string
	// Window is the span of each instance's sparkline (default 15m),
	// drawn from Points samples (default 60) of one range query.
	Window time.Duration
	Points int
	// StaleAfter is the age at which an instance's newest sample is stale
	// (default three intervals, at least a minute).
	StaleAfter time.Duration
	// Live says how to watch one instance live (promfleet_live.go).
	Live LiveTemplates
	// MaxLive is how many instances may be attached live at once
	// (attach.go); default DefaultMaxLive.
	MaxLive int
}

func (c PromFleetConfig) maxLive() int {
	if c.MaxLive <= 0 {
		return DefaultMaxLive
	}
	return c.MaxLive
}

func (c PromFleetConfig) withDefaults() PromFleetConfig {
	c.Interval = orDuration(c.Interval, DefaultPromFleetInterval)
	c.Timeout = orDuration(c.Timeout, 10*time.Second)
	c.Window = orDuration(c.Window, defaultPromFleetWindow)
	if c.Points <= 0 {
		c.Points = defaultPromFleetPoints
	}
	if len(c.GroupBy) == 0 {
		c.GroupBy = DefaultPromFleetGroupBy
	}
	c.StaleAfter = orDuration(c.StaleAfter, max(staleAfter*c.Interval, minPromFleetStale))
	return c
}

// Instance kinds of the fleet.
const (
	FleetPostgres  = "postgres"
	FleetRedis     = "redis"
	FleetPgBouncer = "pgbouncer"
	FleetUnknown   = "" // a target Prometheus cannot scrape, never seen up
)

// Instance states of the fleet, in the order the view lists them.
const (
	FleetDown  = "down"  // the exporter answers but its server does not, or Prometheus cannot scrape it
	FleetStale = "stale" // its newest sample is older than StaleAfter
	FleetGone  = "gone"  // its series vanished: no numbers at all
	FleetUp    = "up"
)

// FleetValue is a number Prometheus gave, or none: a missing series is a
// gap, never a zero. Its JSON is the number or null.
type FleetValue struct {
	V     float64
	Known bool
}

func known(v float64) FleetValue { return FleetValue{V: v, Known: true} }

func (v FleetValue) MarshalJSON() ([]byte, error) {
	if !v.Known {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v.V, 'g', -1, 64), nil
}

func (v *FleetValue) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = FleetValue{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = known(f)
	return nil
}

// FleetInstance is one exporter target's server as Prometheus last saw it.
type FleetInstance struct {
	// Key identifies the instance across refreshes: kind, job, instance
	// and (slotwatch's own /metrics, several servers) server.
	Key  string `json:"key"`
	Kind string `json:"kind"`
	// Labels are the target's labels (job, instance, cluster, …) as on
	// its *_up series: what the view groups by and the drill-down
	// templates read. Never credentials: Prometheus labels hold none.
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
	// Why says what made the instance down, stale or gone.
	Why string `json:"why,omitempty"`
	// Used and Max are connections / max_connections (PostgreSQL) or
	// connected clients / maxclients (Redis); Reserved is PostgreSQL's
	// superuser_reserved + reserved connections.
	Used     FleetValue `json:"used"`
	Max      FleetValue `json:"max"`
	Reserved FleetValue `json:"reserved"`
	// Waiting and MaxWaitSeconds are pgbouncer's waiting clients and
	// longest wait, summed / maximised over its pools.
	Waiting        FleetValue `json:"waiting"`
	MaxWaitSeconds FleetValue `json:"max_wait_seconds"`
	// SampleAt is the time of the instance's newest sample in Prometheus
	// (zero when gone): how old its numbers are.
	SampleAt time.Time `json:"sample_at,omitzero"`
	// GoneSince is when its series were last seen (gone instances only).
	GoneSince time.Time `json:"gone_since,omitzero"`
	// Alerts are the names of the team's firing alerts on this instance
	// (Prometheus's ALERTS series), at most maxFleetAlertNames.
	Alerts     []string `json:"alerts,omitempty"`
	AlertCount int      `json:"alert_count,omitempty"`
	// Spark is Used over the window, oldest first, NaN where Prometheus
	// has no sample. Not in JSON: recordings keep every snapshot, and the
	// series is Prometheus's to keep.
	Spark []float64 `json:"-"`
	// Live is the DSN or URL fleet.live renders for the instance,
	// redacted; LiveError why it cannot be rendered.
	Live      string `json:"live,omitempty"`
	LiveError string `json:"live_error,omitempty"`
}

// Usable is the connections an application can take: max minus reserved
// for PostgreSQL, maxclients for Redis.
func (in *FleetInstance) Usable() FleetValue {
	if !in.Max.Known {
		return FleetValue{}
	}
	if in.Kind == FleetPostgres && in.Reserved.Known {
		return known(in.Max.V - in.Reserved.V)
	}
	return in.Max
}

// Ratio is Used/Usable, and whether both are known and Usable is positive.
func (in *FleetInstance) Ratio() (float64, bool) {
	u := in.Usable()
	if !in.Used.Known || !u.Known || u.V <= 0 {
		return 0, false
	}
	return in.Used.V / u.V, true
}

// Label is the instance's value of a label, "" when it has none.
func (in *FleetInstance) Label(name string) string { return in.Labels[name] }

const maxFleetAlertNames = 5

// PromFleetStats is the fleet as Prometheus last answered.
type PromFleetStats struct {
	Sample
	Prometheus string   `json:"prometheus"` // host:port, never credentials
	GroupBy    []string `json:"group_by"`
	// EvaluatedAt is the time the queries were evaluated at.
	EvaluatedAt time.Time `json:"evaluated_at"`
	// Window and Step are the sparklines' span and resolution.
	WindowSeconds float64 `json:"window_seconds"`
	StepSeconds   float64 `json:"step_seconds"`
	// StaleAfterSeconds is the age at which an instance's sample is stale.
	StaleAfterSeconds float64 `json:"stale_after_seconds"`
	// Instances are DOWN first, then stale, then gone, then by headroom,
	// least first.
	Instances []FleetInstance `json:"instances"`
	// Queries is how many HTTP queries this refresh took (a few, however
	// many instances).
	Queries int `json:"queries"`
}

// Count returns how many instances are in each state.
func (s *PromFleetStats) Count() map[string]int {
	out := map[string]int{}
	for i := range s.Instances {
		out[s.Instances[i].State]++
	}
	return out
}

type promFleetCollector struct {
	cfg    PromFleetConfig
	api    *promClient
	memory *fleetMemory
	last   *PromFleetStats
	// livePG and liveRedis are the parsed fleet.live templates.
	livePG, liveRedis *template.Template
}

// ValidatePromFleet checks a fleet configuration; its error is an
// *InvalidTargetError: the input is wrong, not Prometheus.
func ValidatePromFleet(cfg PromFleetConfig) error {
	if _, err := newPromFleetCollector(cfg); err != nil {
		return &InvalidTargetError{sentence: err.Error()}
	}
	return nil
}

func newPromFleetCollector(cfg PromFleetConfig) (*promFleetCollector, error) {
	u, err := parseAlertingURL(cfg.URL, "fleet.prometheus")
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("fleet.prometheus is empty; give the Prometheus URL, e.g. http://prometheus:9090")
	}
	for _, l := range cfg.GroupBy {
		if !validLabelName(l) {
			return nil, fmt.Errorf("fleet.group_by has %q, which is not a Prometheus label name; use letters, digits and _", l)
		}
	}
	cfg = cfg.withDefaults()
	c := &promFleetCollector{cfg: cfg, memory: newFleetMemory()}
	if c.livePG, c.liveRedis, err = cfg.Live.parsed(); err != nil {
		return nil, err
	}
	c.api = &promClient{base: u, secrets: secretsOf(cfg.URL)}
	// One kept-alive connection, whatever the fleet's size: the queries of
	// a refresh run one after another on it.
	c.api.client = keptAliveClient(cfg.Timeout, 1)
	return c, nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func (c *promFleetCollector) interval() time.Duration { return c.cfg.Interval }

func (c *promFleetCollector) close() { c.api.client.CloseIdleConnections() }

func (c *promFleetCollector) collect(ctx context.Context) func(*Snapshot) {
	st, err := c.read(ctx, time.Now())
	if err != nil {
		msg := scrub(err.Error(), c.api.secrets...)
		last := c.last
		return func(s *Snapshot) {
			s.PromFleet = last
			s.Errors[SourcePromFleet] = msg
		}
	}
	c.last = st
	return func(s *Snapshot) {
		s.PromFleet = st
		delete(s.Errors, SourcePromFleet)
	}
}

// read takes one refresh at now. Any failing query fails the refresh: half
// a fleet would show instances as gone that are not.
func (c *promFleetCollector) read(ctx context.Context, now time.Time) (*PromFleetStats, error) {
	ans, err := c.ask(ctx, now)
	if err != nil {
		return nil, err
	}
	st := &PromFleetStats{
		Sample:            Sample{SampledAt: time.Now(), LastGoodAt: time.Now()},
		Prometheus:        c.api.base.Host,
		GroupBy:           slices.Clone(c.cfg.GroupBy),
		EvaluatedAt:       now,
		WindowSeconds:     c.cfg.Window.Seconds(),
		StepSeconds:       c.step().Seconds(),
		StaleAfterSeconds: c.cfg.StaleAfter.Seconds(),
		Queries:           ans.queries,
	}
	st.Instances = c.memory.merge(buildFleet(ans, now, c.cfg.StaleAfter), now)
	sortFleet(st.Instances)
	c.cfg.Live.liveTargets(c.livePG, c.liveRedis, st.Instances)
	return st, nil
}

func (c *promFleetCollector) step() time.Duration {
	return max(c.cfg.Window/time.Duration(c.cfg.Points), time.Second)
}
