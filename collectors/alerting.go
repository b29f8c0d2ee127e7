package collectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// SourceAlerting is the Snapshot.Errors key of the external-alerts source.
const SourceAlerting = "alerting"

// DefaultAlertingInterval is how often the team's alerting is read: alert
// states change on Prometheus's evaluation interval, not every second.
const DefaultAlertingInterval = 15 * time.Second

// maxExternalAlerts bounds what one snapshot carries (recordings keep every
// snapshot): a storm elsewhere must not bloat them.
const maxExternalAlerts = 50

// AlertingConfig reads the team's own alerting. Either URL may be empty.
type AlertingConfig struct {
	Alertmanager string // base URL, e.g. http://alertmanager:9093
	Prometheus   string // base URL, e.g. http://prometheus:9090
	// Databases keeps only alerts about these databases (label datname,
	// database or db); an alert without such a label is kept. Empty keeps
	// every alert.
	Databases []string
	Interval  time.Duration // default 15s
	Timeout   time.Duration // per request, default 5s
}

// AlertingStats is the team's alerting as last read. Every alert here is
// external: raised by their Alertmanager/Prometheus, not by slotwatch.
type AlertingStats struct {
	Sample
	Alertmanager string `json:"alertmanager,omitempty"` // host:port, never credentials
	Prometheus   string `json:"prometheus,omitempty"`
	// Alerts are the firing and pending alerts for the watched databases,
	// firing first, then by name.
	Alerts []ExternalAlert `json:"alerts"`
	// Rules are Prometheus's alerting rules over pg_stat_activity_count
	// (the connection-use rules), with their state and health, so analysis
	// can say when one is inactive while the slots are nearly gone.
	Rules []ExternalRule `json:"rules,omitempty"`
}

// ExternalAlert is one alert from the team's alerting.
type ExternalAlert struct {
	Name     string            `json:"name"`
	State    string            `json:"state"` // firing or pending
	Severity string            `json:"severity,omitempty"`
	Summary  string            `json:"summary,omitempty"` // annotation summary, else description
	Since    time.Time         `json:"since,omitzero"`
	Labels   map[string]string `json:"labels,omitempty"`
	Source   string            `json:"source"` // alertmanager or prometheus
	// External is always true: the UI marks these apart from slotwatch's
	// own alerts without having to know where the struct came from.
	External bool `json:"external"`
}

// ExternalRule is one of Prometheus's alerting rules.
type ExternalRule struct {
	Name       string  `json:"name"`
	Group      string  `json:"group"`
	Query      string  `json:"query"`
	State      string  `json:"state"`  // inactive, pending, firing
	Health     string  `json:"health"` // ok, err, unknown
	LastError  string  `json:"last_error,omitempty"`
	ForSeconds float64 `json:"for_seconds"`
	// LastEvaluation is when Prometheus last evaluated the rule.
	LastEvaluation time.Time `json:"last_evaluation,omitzero"`
}

// Alert states as shown.
const (
	ExternalFiring  = "firing"
	ExternalPending = "pending"
)

type alertingCollector struct {
	cfg     AlertingConfig
	client  *http.Client
	am, pr  *url.URL
	last    *AlertingStats
	secrets []string
}

func newAlertingCollector(cfg AlertingConfig) (*alertingCollector, error) {
	c := &alertingCollector{cfg: cfg}
	var err error
	if c.am, err = parseAlertingURL(cfg.Alertmanager, "alerting.alertmanager"); err != nil {
		return nil, err
	}
	if c.pr, err = parseAlertingURL(cfg.Prometheus, "alerting.prometheus"); err != nil {
		return nil, err
	}
	if c.am == nil && c.pr == nil {
		return nil, errors.New("the alerting section names neither alertmanager nor prometheus; give at least one URL or remove the section")
	}
	for _, u := range []*url.URL{c.am, c.pr} {
		if u != nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				c.secrets = append(c.secrets, pw)
			}
		}
	}
	// Alertmanager and Prometheus: one kept-alive connection each.
	c.client = keptAliveClient(orDuration(cfg.Timeout, 5*time.Second), 2)
	return c, nil
}

// ValidateAlerting checks the URLs of an alerting configuration.
func ValidateAlerting(cfg AlertingConfig) error {
	_, err := newAlertingCollector(cfg)
	return err
}

func parseAlertingURL(raw, key string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s %q is not an http(s) URL; write it as http://host:port", key, RedactURL(raw))
	}
	return u, nil
}

func (c *alertingCollector) interval() time.Duration {
	return orDuration(c.cfg.Interval, DefaultAlertingInterval)
}

func (c *alertingCollector) close() { c.client.CloseIdleConnections() }

func (c *alertingCollector) collect(ctx context.Context) func(*Snapshot) {
	st, err := c.read(ctx)
	if err != nil {
		msg := scrub(err.Error(), c.secrets...)
		last := c.last
		return func(s *Snapshot) {
			s.Alerting = last
			s.Errors[SourceAlerting] = msg
		}
	}
	c.last = st
	return func(s *Snapshot) {
		s.Alerting = st
		delete(s.Errors, SourceAlerting)
	}
}

// read asks every configured server once. Any failure fails the whole
// sample: half a picture would show alerts as resolved that are not.
func (c *alertingCollector) read(ctx context.Context) (*AlertingStats, error) {
	now := time.Now()
	st := &AlertingStats{Sample: Sample{SampledAt: now, LastGoodAt: now}}
	byKey := map[string]int{}
	add := func(a ExternalAlert) {
		if !c.wanted(a.Labels) {
			return
		}
		k := alertKey(a)
		if i, ok := byKey[k]; ok {
			// The same alert through Prometheus and Alertmanager: firing
			// wins over pending.
			if a.State == ExternalFiring {
				st.Alerts[i].State = ExternalFiring
			}
			return
		}
		byKey[k] = len(st.Alerts)
		st.Alerts = append(st.Alerts, a)
	}
	if c.am != nil {
		st.Alertmanager = c.am.Host
		alerts, err := c.alertmanagerAlerts(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range alerts {
			add(a)
		}
	}
	if c.pr != nil {
		st.Prometheus = c.pr.Host
		alerts, rules, err := c.prometheusRules(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range alerts {
			add(a)
		}
		st.Rules = rules
	}
	sortExternal(st.Alerts)
	if len(st.Alerts) > maxExternalAlerts {
		st.Alerts = st.Alerts[:maxExternalAlerts]
	}
	return st, nil
}

func sortExternal(alerts []ExternalAlert) {
	sort.SliceStable(alerts, func(i, j int) bool {
		a, b := alerts[i], alerts[j]
		if (a.State == ExternalFiring) != (b.State == ExternalFiring) {
			return a.State == ExternalFiring
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return alertKey(a) < alertKey(b)
	})
}

// alertKey identifies an alert by name and labels, as Alertmanager does,
// leaving out the alertstate label Prometheus adds.
func alertKey(a ExternalAlert) string {
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		if k != "alertstate" && k != "alertname" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(a.Name)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + a.Labels[k])
	}
	return b.String()
}

// databaseLabels name the database an alert is about, by convention.
var databaseLabels = []string{"datname", "database", "db"}

func (c *alertingCollector) wanted(labels map[string]string) bool {
	if len(c.cfg.Databases) == 0 {
		return true
	}
	for _, k := range databaseLabels {
		if v, ok := labels[k]; ok {
			return slices.Contains(c.cfg.Databases, v)
		}
	}
	return true
}

// amAlert is the part of Alertmanager's /api/v2/alerts answer we read.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
}

func (c *alertingCollector) alertmanagerAlerts(ctx context.Context) ([]ExternalAlert, error) {
	var raw []amAlert
	if err := c.getJSON(ctx, c.am, "/api/v2/alerts", "active=true&silenced=false&inhibited=false", "Alertmanager", &raw); err != nil {
		return nil, err
	}
	out := make([]ExternalAlert, 0, len(raw))
	for _, a := range raw {
		if a.Status.State == "suppressed" {
			continue
		}
		out = append(out, externalAlert(a.Labels, a.Annotations, ExternalFiring, a.StartsAt, "alertmanager"))
	}
	return out, nil
}

// promRules is the part of Prometheus's /api/v1/rules answer we read.
type promRules struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Type      string    `json:"type"`
				Name      string    `json:"name"`
				Query     string    `json:"query"`
				Duration  float64   `json:"duration"`
				State     string    `json:"state"`
				Health    string    `json:"health"`
				LastError string    `json:"lastError"`
				LastEval  time.Time `json:"lastEvaluation"`
				Alerts    []struct {
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
					State       string            `json:"state"`
					ActiveAt    time.Time         `json:"activeAt"`
				} `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

// maxExternalRules bounds the connection-use rules kept per snapshot.
const maxExternalRules = 20

// prometheusRules reads alerting rules and their alerts in one request:
// /api/v1/rules carries every alert /api/v1/alerts would, plus the rule
// states an inactive-rule finding needs.
func (c *alertingCollector) prometheusRules(ctx context.Context) ([]ExternalAlert, []ExternalRule, error) {
	var raw promRules
	if err := c.getJSON(ctx, c.pr, "/api/v1/rules", "type=alert", "Prometheus", &raw); err != nil {
		return nil, nil, err
	}
	if raw.Status != "success" {
		return nil, nil, fmt.Errorf("Prometheus %s answered /api/v1/rules with status %q: %s; check the URL in alerting.prometheus", c.pr.Host, raw.Status, raw.Error)
	}
	var alerts []ExternalAlert
	var rules []ExternalRule
	for _, g := range raw.Data.Groups {
		for _, r := range g.Rules {
			if r.Type != "alerting" {
				continue
			}
			for _, a := range r.Alerts {
				if a.State != ExternalFiring && a.State != ExternalPending {
					continue
				}
				alerts = append(alerts, externalAlert(a.Labels, a.Annotations, a.State, a.ActiveAt, "prometheus"))
			}
			if strings.Contains(r.Query, "pg_stat_activity_count") && len(rules) < maxExternalRules {
				rules = append(rules, ExternalRule{Name: r.Name, Group: g.Name, Query: r.Query, State: r.State,
					Health: r.Health, LastError: r.LastError, ForSeconds: r.Duration, LastEvaluation: r.LastEval})
			}
		}
	}
	return alerts, rules, nil
}

func externalAlert(labels, annotations map[string]string, state string, since time.Time, source string) ExternalAlert {
	summary := annotations["summary"]
	if summary == "" {
		summary = annotations["description"]
	}
	return ExternalAlert{Name: labels["alertname"], State: state, Severity: labels["severity"], Summary: summary,
		Since: since, Labels: labels, Source: source, External: true}
}

// maxAlertingBody bounds one answer: a runaway Alertmanager must not eat
// the console's memory.
const maxAlertingBody = 8 << 20

func (c *alertingCollector) getJSON(ctx context.Context, base *url.URL, path, query, what string, v any) error {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("build the %s request: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot read alerts from %s at %s: %w; check that it runs and the URL in the alerting section", what, base.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxAlertingBody)
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, body)
		return fmt.Errorf("%s at %s answered %s with HTTP %d; check the URL in the alerting section", what, base.Host, path, resp.StatusCode)
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("%s at %s sent an answer to %s that is not the expected JSON (%v); is the URL really %s?", what, base.Host, path, err, what)
	}
	// Drain so the connection is reused for the next poll.
	_, _ = io.Copy(io.Discard, body)
	return nil
}

// unwrapURLError drops *url.Error's "Get \"http://user:pw@…\"" prefix,
// which would print the whole URL, credentials included.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
