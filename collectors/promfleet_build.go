package collectors

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// The fleet's queries. Each answers for every instance at once, so a
// refresh is four requests whatever the fleet's size. Values are keyed by
// (job, instance, server): server is slotwatch's own label with several
// servers, and postgres_exporter's host:port on its query series.
const (
	// promFleetRaw are the per-target gauges kept with all their labels.
	promFleetRaw = `{__name__=~"up|pg_up|redis_up|pgbouncer_up|pg_settings_max_connections|pg_settings_superuser_reserved_connections|pg_settings_reserved_connections|redis_config_maxclients"}`
	// promFleetAgg are sums over the per-database, per-pool series and
	// the newest sample's time per target, told apart by label m.
	// slotwatch_pg_slots_used (slotwatch's /metrics) wins over the sum of
	// pg_stat_activity_count: it counts slotwatch's own connections too.
	promFleetAgg = `label_replace(sum by (job, instance, server) (slotwatch_pg_slots_used) or sum by (job, instance, server) (pg_stat_activity_count), "m", "pg_used", "", "")
or label_replace(sum by (job, instance, server) (redis_connected_clients), "m", "redis_used", "", "")
or label_replace(sum by (job, instance, server) (pgbouncer_pools_client_waiting_connections), "m", "pgb_waiting", "", "")
or label_replace(max by (job, instance, server) (pgbouncer_pools_client_maxwait_seconds), "m", "pgb_maxwait", "", "")
or label_replace(max by (job, instance, server) (timestamp(pg_up)), "m", "postgres_ts", "", "")
or label_replace(max by (job, instance, server) (timestamp(redis_up)), "m", "redis_ts", "", "")
or label_replace(max by (job, instance, server) (timestamp(pgbouncer_up)), "m", "pgbouncer_ts", "", "")`
	promFleetAlerts = `ALERTS{alertstate="firing"}`
	// promFleetSpark is each instance's used connections (pgbouncer:
	// waiting clients) over the window, one range query.
	promFleetSpark = `label_replace(sum by (job, instance, server) (slotwatch_pg_slots_used) or sum by (job, instance, server) (pg_stat_activity_count), "m", "postgres", "", "")
or label_replace(sum by (job, instance, server) (redis_connected_clients), "m", "redis", "", "")
or label_replace(sum by (job, instance, server) (pgbouncer_pools_client_waiting_connections), "m", "pgbouncer", "", "")`
)

// fleetAnswers are one refresh's query results.
type fleetAnswers struct {
	raw, agg, alerts, spark []promSeries
	start                   time.Time
	step                    time.Duration
	points                  int
	queries                 int
}

func (c *promFleetCollector) ask(ctx context.Context, now time.Time) (*fleetAnswers, error) {
	a := &fleetAnswers{step: c.step(), points: c.cfg.Points + 1}
	a.start = now.Add(-time.Duration(c.cfg.Points) * a.step)
	var err error
	for _, q := range []struct {
		into *[]promSeries
		run  func() ([]promSeries, error)
		what string
	}{
		{&a.raw, func() ([]promSeries, error) { return c.api.query(ctx, promFleetRaw, now) }, "the exporters' gauges"},
		{&a.agg, func() ([]promSeries, error) { return c.api.query(ctx, promFleetAgg, now) }, "the connection sums"},
		{&a.alerts, func() ([]promSeries, error) { return c.api.query(ctx, promFleetAlerts, now) }, "the firing alerts"},
		{&a.spark, func() ([]promSeries, error) { return c.api.queryRange(ctx, promFleetSpark, a.start, now, a.step) }, "the sparklines' range"},
	} {
		a.queries++
		if *q.into, err = q.run(); err != nil {
			return nil, fmt.Errorf("reading %s from Prometheus: %w", q.what, err)
		}
	}
	return a, nil
}

// seriesKey is (job, instance, server) of a series.
func seriesKey(m map[string]string) string {
	return m["job"] + "\x00" + m["instance"] + "\x00" + m["server"]
}

func targetKey(m map[string]string) string { return m["job"] + "\x00" + m["instance"] }

// fleetIndex finds a value by (job, instance, server), falling back to the
// target's only value when the *_up series has no server label but the
// query series do (postgres_exporter's server="host:port").
type fleetIndex struct {
	exact  map[string]float64
	target map[string]float64
}

func newFleetIndex() fleetIndex {
	return fleetIndex{exact: map[string]float64{}, target: map[string]float64{}}
}

func (x fleetIndex) put(m map[string]string, v float64) {
	x.exact[seriesKey(m)] = v
	x.target[targetKey(m)] = v
}

func (x fleetIndex) get(m map[string]string) FleetValue {
	if v, ok := x.exact[seriesKey(m)]; ok {
		return known(v)
	}
	if m["server"] == "" {
		if v, ok := x.target[targetKey(m)]; ok {
			return known(v)
		}
	}
	return FleetValue{}
}

var upKinds = map[string]string{"pg_up": FleetPostgres, "redis_up": FleetRedis, "pgbouncer_up": FleetPgBouncer}

// fleetNow is what one refresh saw: its instances, and the targets
// Prometheus could not scrape (up == 0) with their labels.
type fleetNow struct {
	rows      []FleetInstance
	unscraped map[string]map[string]string // targetKey → up's labels
	alerts    fleetAlerts
}

// buildFleet joins one refresh's answers into one row per instance.
func buildFleet(a *fleetAnswers, now time.Time, staleAfter time.Duration) fleetNow {
	gauges := map[string]fleetIndex{}
	index := func(name string) fleetIndex {
		x, ok := gauges[name]
		if !ok {
			x = newFleetIndex()
			gauges[name] = x
		}
		return x
	}
	out := fleetNow{unscraped: map[string]map[string]string{}}
	var ups []promSeries
	for _, s := range a.raw {
		name := s.Metric["__name__"]
		switch {
		case name == "up":
			if s.Value.V == 0 {
				out.unscraped[targetKey(s.Metric)] = withoutName(s.Metric)
			}
		case upKinds[name] != "":
			ups = append(ups, s)
		default:
			index(name).put(s.Metric, s.Value.V)
		}
	}
	for _, s := range a.agg {
		index(s.Metric["m"]).put(s.Metric, s.Value.V)
	}
	alerts := indexAlerts(a.alerts)
	out.alerts = alerts
	sparks := map[string][]float64{}
	for _, s := range a.spark {
		sparks[s.Metric["m"]+"\x00"+seriesKey(s.Metric)] = alignSpark(s.Values, a.start, a.step, a.points)
	}
	out.rows = make([]FleetInstance, 0, len(ups))
	for _, s := range ups {
		kind := upKinds[s.Metric["__name__"]]
		in := FleetInstance{Kind: kind, Labels: withoutName(s.Metric), State: FleetUp}
		in.Key = fleetInstanceKey(kind, in.Labels)
		if ts := index(kind + "_ts").get(in.Labels); ts.Known {
			in.SampleAt = time.Unix(0, int64(ts.V*1e9))
		}
		fillNumbers(&in, index)
		switch {
		case s.Value.V != 1:
			in.State, in.Why = FleetDown, fmt.Sprintf("%s=%g: the exporter cannot reach its server", s.Metric["__name__"], s.Value.V)
		case !in.SampleAt.IsZero() && now.Sub(in.SampleAt) > staleAfter:
			in.State, in.Why = FleetStale, "no new sample in Prometheus for "+now.Sub(in.SampleAt).Truncate(time.Second).String()
		}
		in.Alerts, in.AlertCount = alerts.of(in.Labels)
		if sp, ok := sparks[kind+"\x00"+seriesKey(in.Labels)]; ok {
			in.Spark = sp
		} else if in.Labels["server"] == "" {
			in.Spark = sparkOfTarget(sparks, kind, in.Labels)
		}
		out.rows = append(out.rows, in)
	}
	return out
}

func fillNumbers(in *FleetInstance, index func(string) fleetIndex) {
	switch in.Kind {
	case FleetPostgres:
		in.Used = index("pg_used").get(in.Labels)
		in.Max = index("pg_settings_max_connections").get(in.Labels)
		su := index("pg_settings_superuser_reserved_connections").get(in.Labels)
		if su.Known {
			in.Reserved = su
			if r := index("pg_settings_reserved_connections").get(in.Labels); r.Known {
				in.Reserved.V += r.V
			}
		}
	case FleetRedis:
		in.Used = index("redis_used").get(in.Labels)
		in.Max = index("redis_config_maxclients").get(in.Labels)
	case FleetPgBouncer:
		in.Waiting = index("pgb_waiting").get(in.Labels)
		in.MaxWaitSeconds = index("pgb_maxwait").get(in.Labels)
	}
}

func sparkOfTarget(sparks map[string][]float64, kind string, labels map[string]string) []float64 {
	prefix := kind + "\x00" + targetKey(labels) + "\x00"
	for k, v := range sparks {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			return v
		}
	}
	return nil
}

func fleetInstanceKey(kind string, labels map[string]string) string {
	return kind + "|" + labels["job"] + "|" + labels["instance"] + "|" + labels["server"]
}

func withoutName(m map[string]string) map[string]string {
	out := maps.Clone(m)
	delete(out, "__name__")
	return out
}

// alignSpark places a range series' points on the window's steps; a step
// without a point stays NaN (a gap).
func alignSpark(points []promPoint, start time.Time, step time.Duration, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	for _, p := range points {
		i := int(math.Round(p.time().Sub(start).Seconds() / step.Seconds()))
		if i >= 0 && i < n {
			out[i] = p.V
		}
	}
	return out
}

// fleetAlerts are the firing ALERTS series by target.
type fleetAlerts struct {
	byInstance map[string][]map[string]string
}

func indexAlerts(series []promSeries) fleetAlerts {
	x := fleetAlerts{byInstance: map[string][]map[string]string{}}
	for _, s := range series {
		if inst := s.Metric["instance"]; inst != "" {
			x.byInstance[inst] = append(x.byInstance[inst], s.Metric)
		}
	}
	return x
}

// of returns the names of the alerts on the instance: same instance, and
// the same job and server where the alert carries them (a rule that
// aggregates them away still names the instance).
func (x fleetAlerts) of(labels map[string]string) ([]string, int) {
	var names []string
	n := 0
	for _, a := range x.byInstance[labels["instance"]] {
		if (a["job"] != "" && a["job"] != labels["job"]) || (a["server"] != "" && a["server"] != labels["server"]) {
			continue
		}
		n++
		if name := a["alertname"]; !slices.Contains(names, name) && len(names) < maxFleetAlertNames {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, n
}

// fleetMemory remembers the instances seen, so that one whose series
// vanished is listed as gone (or down, when Prometheus cannot scrape its
// exporter) instead of silently disappearing.
type fleetMemory struct {
	seen map[string]*fleetMemo
}

type fleetMemo struct {
	kind     string
	labels   map[string]string
	lastSeen time.Time
}

func newFleetMemory() *fleetMemory { return &fleetMemory{seen: map[string]*fleetMemo{}} }

func (m *fleetMemory) merge(cur fleetNow, now time.Time) []FleetInstance {
	rows := cur.rows
	present := make(map[string]bool, len(rows))
	jobs := map[string]bool{}
	for i := range rows {
		present[rows[i].Key] = true
		jobs[rows[i].Labels["job"]] = true
		m.seen[rows[i].Key] = &fleetMemo{kind: rows[i].Kind, labels: rows[i].Labels, lastSeen: now}
	}
	for _, memo := range m.seen {
		jobs[memo.labels["job"]] = true
	}
	covered := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(m.seen)) {
		memo := m.seen[key]
		if present[key] {
			continue
		}
		in := FleetInstance{Key: key, Kind: memo.kind, Labels: memo.labels}
		if _, down := cur.unscraped[targetKey(memo.labels)]; down {
			covered[targetKey(memo.labels)] = true
			in.State, in.Why = FleetDown, "Prometheus cannot scrape its exporter (up=0)"
			in.Alerts, in.AlertCount = cur.alerts.of(in.Labels)
			rows = append(rows, in)
			continue
		}
		if now.Sub(memo.lastSeen) > promFleetGoneKeep {
			delete(m.seen, key)
			continue
		}
		in.State, in.GoneSince = FleetGone, memo.lastSeen
		in.Why = "its series vanished from Prometheus " + now.Sub(memo.lastSeen).Truncate(time.Second).String() + " ago"
		rows = append(rows, in)
	}
	// A target of a fleet job that Prometheus has never scraped
	// successfully since slotwatch started: down, of no known kind.
	for _, tk := range slices.Sorted(maps.Keys(cur.unscraped)) {
		labels := cur.unscraped[tk]
		if covered[tk] || !jobs[labels["job"]] {
			continue
		}
		in := FleetInstance{Key: fleetInstanceKey(FleetUnknown, labels), Kind: FleetUnknown, Labels: labels,
			State: FleetDown, Why: "Prometheus cannot scrape its exporter (up=0)"}
		in.Alerts, in.AlertCount = cur.alerts.of(labels)
		rows = append(rows, in)
	}
	return rows
}

var fleetStateOrder = map[string]int{FleetDown: 0, FleetStale: 1, FleetGone: 2, FleetUp: 3}

// sortFleet lists DOWN, then stale, then gone instances, then the rest by
// headroom, least first; instances whose headroom is unknown after them.
func sortFleet(rows []FleetInstance) {
	slices.SortStableFunc(rows, func(a, b FleetInstance) int {
		if c := cmp.Compare(fleetStateOrder[a.State], fleetStateOrder[b.State]); c != 0 {
			return c
		}
		ra, oka := a.Ratio()
		rb, okb := b.Ratio()
		switch {
		case oka && okb && ra != rb:
			return cmp.Compare(rb, ra)
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Key, b.Key)
	})
}
