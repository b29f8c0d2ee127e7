package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// fileConfig is the YAML configuration file. Flags override the environment,
// which overrides the file.
type fileConfig struct {
	// PGTargets and RedisTargets are one target or a list of servers, the
	// first one the primary (servers.go).
	PGTargets    pgList    `yaml:"pg"`
	RedisTargets redisList `yaml:"redis"`
	// PgBouncer is a DSN to pgbouncer's admin console (database pgbouncer).
	PgBouncer string        `yaml:"pgbouncer"`
	DB        string        `yaml:"db"`       // restrict PostgreSQL sessions to one database
	Interval  time.Duration `yaml:"interval"` // PostgreSQL and Redis refresh, default 1s
	Probe     struct {
		DSN      string         `yaml:"dsn"`      // default: the pg target
		Interval *time.Duration `yaml:"interval"` // default 10s; 0 disables
	} `yaml:"probe"`
	Jobs struct {
		DSN      string        `yaml:"dsn"`   // default: the pg target
		Query    string        `yaml:"query"` // columns id, label, count, limit
		Interval time.Duration `yaml:"interval"`
		Disabled bool          `yaml:"disabled"`
	} `yaml:"jobs"`
	ReadOnly bool   `yaml:"read_only"`
	AuditLog string `yaml:"audit_log"`
	Actions  struct {
		ProtectedApps  []string      `yaml:"protected_apps"`
		AllowSuperuser bool          `yaml:"allow_superuser"`
		BatchSize      int           `yaml:"batch_size"`
		BatchInterval  time.Duration `yaml:"batch_interval"`
		// GroupIdleOver is N of the dashboard's "terminate the group's
		// sessions idle longer than N" (G); --group-idle-over overrides it.
		GroupIdleOver time.Duration `yaml:"group_idle_over"`
	} `yaml:"actions"`
	// Alerts overrides built-in rules by name, e.g.
	// PostgresConnectionLimitReached: {threshold: 0.9, for: 2m}.
	Alerts map[string]alertOverride `yaml:"alerts"`
	// Serve configures `slotwatch serve`: the keys (by fingerprint SHA256:…
	// or by their comment in the authorized_keys file) that may act; every
	// other key is a read-only viewer.
	Serve struct {
		Operators []string `yaml:"operators"`
	} `yaml:"serve"`
	// Alerting reads the team's own alerts (Alertmanager and/or
	// Prometheus) to show beside slotwatch's, marked external.
	Alerting struct {
		Alertmanager string        `yaml:"alertmanager"`
		Prometheus   string        `yaml:"prometheus"`
		Interval     time.Duration `yaml:"interval"` // default 15s
	} `yaml:"alerting"`
	// PGLog is where the primary server's refused connections are read:
	// through the server by default, or a csvlog/jsonlog file here.
	PGLog struct {
		Path     string `yaml:"path"`
		Disabled bool   `yaml:"disabled"`
	} `yaml:"pg_log"`
	// Fleet reads the whole fleet from Prometheus (fleetprom.go).
	Fleet fleetSection `yaml:"fleet"`
}

type alertOverride struct {
	Threshold *float64       `yaml:"threshold"`
	For       *time.Duration `yaml:"for"`
	Disabled  bool           `yaml:"disabled"`
}

// targetFlags are the flags every command that talks to servers shares;
// the action flags (--read-only, --audit-log) only where something can act.
type targetFlags struct {
	configPath string
	pg         serverFlag
	redis      serverFlag
	pgbouncer  string
	db         string
	readOnly   bool
	auditLog   string
	server     string // --server of the action commands
	fleetProm  string // --fleet-prometheus
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.configPath, "config", "", "YAML config file (default $XDG_CONFIG_HOME/slotwatch/config.yaml when present)")
	fs.Var(&t.pg, "pg", "PostgreSQL DSN, or NAME=URL; repeat for several servers, the first the primary (env SLOTWATCH_PG, DATABASE_URL; PG* variables and .pgpass honoured)")
	fs.Var(&t.redis, "redis", "Redis URL, or NAME=URL; repeat for several servers; redis+cluster://host:port,host:port for a cluster (env SLOTWATCH_REDIS, REDIS_URL)")
	fs.StringVar(&t.pgbouncer, "pgbouncer", "", "pgbouncer admin-console DSN, database pgbouncer (env SLOTWATCH_PGBOUNCER)")
	fs.StringVar(&t.db, "db", "", "only sessions of this database")
	fs.StringVar(&t.fleetProm, "fleet-prometheus", "", "read the whole fleet from this Prometheus API, e.g. http://prometheus:9090 (env SLOTWATCH_FLEET_PROMETHEUS; config fleet.prometheus)")
}

// registerServer adds --server to a command that acts on one server.
func (t *targetFlags) registerServer(fs *flag.FlagSet) {
	fs.StringVar(&t.server, "server", "", "the configured server to act on, by name (required when several of its kind are configured)")
}

func (t *targetFlags) registerActions(fs *flag.FlagSet) {
	fs.BoolVar(&t.readOnly, "read-only", false, "disable every mitigation")
	fs.StringVar(&t.auditLog, "audit-log", "", "audit log file (default $XDG_STATE_HOME/slotwatch/audit.jsonl)")
}

// settings is the resolved configuration a command works with.
type settings struct {
	fileConfig
	// PG and Redis are the primaries' targets ("" when none); servers has
	// every configured server, primaries first.
	PG, Redis string
	servers   servers
	// rules are the built-in alert rules with the file's overrides, checked
	// when the configuration is resolved so a typo fails every command.
	rules []analysis.Rule
}

// resolve merges flags, environment and the config file, in that order of
// precedence, and fills defaults.
func (t *targetFlags) resolve(env *environment) (*settings, error) {
	cfg, err := loadConfigFile(t.configPath, env)
	if err != nil {
		return nil, err
	}
	s := &settings{fileConfig: *cfg}
	// The highest-precedence source that names any server names them all:
	// --pg flags, else one SLOTWATCH_PG / DATABASE_URL, else the file's
	// list, else the PG* variables.
	s.servers.pg = firstList(t.pg, envEntry(env, "SLOTWATCH_PG", "DATABASE_URL"), cfg.PGTargets.entries)
	if len(s.servers.pg) == 0 {
		dsn, err := libpqEnvTarget(env)
		if err != nil {
			return nil, err
		}
		if dsn != "" {
			s.servers.pg = []serverEntry{{Target: dsn}}
		}
	}
	s.servers.redis = firstList(t.redis, envEntry(env, "SLOTWATCH_REDIS", "REDIS_URL"), cfg.RedisTargets.entries)
	if len(s.servers.pg) > 0 {
		s.PG = s.servers.pg[0].Target
	}
	if len(s.servers.redis) > 0 {
		s.Redis = s.servers.redis[0].Target
	}
	s.PgBouncer = firstNonEmpty(t.pgbouncer, env.getenv("SLOTWATCH_PGBOUNCER"), s.PgBouncer)
	s.DB = firstNonEmpty(t.db, s.DB)
	s.Fleet.Prometheus = firstNonEmpty(t.fleetProm, env.getenv("SLOTWATCH_FLEET_PROMETHEUS"), s.Fleet.Prometheus)
	s.ReadOnly = t.readOnly || s.ReadOnly
	s.AuditLog = firstNonEmpty(t.auditLog, s.AuditLog, defaultAuditLog(env))
	if s.Interval <= 0 {
		s.Interval = collectors.DefaultInterval
	}
	if s.Jobs.Interval <= 0 {
		s.Jobs.Interval = collectors.DefaultJobsInterval
	}
	if s.Probe.Interval == nil {
		d := collectors.DefaultProbeInterval
		s.Probe.Interval = &d
	}
	if s.rules, err = s.alertRules(); err != nil {
		return nil, err
	}
	return s, nil
}

// loadConfigFile reads the YAML file; a missing default file is not an
// error, a missing explicit one is.
func loadConfigFile(path string, env *environment) (*fileConfig, error) {
	explicit := path != ""
	if !explicit {
		path = defaultConfigPath(env)
	}
	cfg := &fileConfig{}
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return cfg, nil
		}
		return nil, fmt.Errorf("cannot read the config file %s: %w; check the path given to --config", path, err)
	}
	if err := decodeConfig(data, cfg); err != nil {
		return nil, fmt.Errorf("the config file %s is not valid: %v; fix it or run without --config", path, err)
	}
	return cfg, nil
}

// decodeConfig decodes the YAML into cfg. Durations and numbers are checked
// first, on the document tree, so that durations take the units the flags
// take (5min as well as 5m) and an out-of-range value is named with its key
// and line; unknown keys are an error, so typos are caught.
func decodeConfig(data []byte, cfg *fileConfig) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	if err := checkConfigValues(doc.Content[0], ""); err != nil {
		return err
	}
	// The server lists are checked on this tree too, for their lines.
	if err := checkServerLists(doc.Content[0]); err != nil {
		return err
	}
	normalized, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(normalized))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// configRange is the accepted range of a numeric key. Zero stays allowed
// where it means "the default" (an absent key decodes to zero too).
type configRange struct {
	duration bool
	lo, hi   int64
}

func durRange(lo, hi time.Duration) configRange {
	return configRange{duration: true, lo: int64(lo), hi: int64(hi)}
}

// configRanges by key path; alert names are "*".
var configRanges = map[string]configRange{
	"interval":                durRange(0, time.Hour),
	"probe.interval":          durRange(0, time.Hour),
	"jobs.interval":           durRange(0, day),
	"actions.batch_size":      {lo: 1, hi: 100000},
	"actions.batch_interval":  durRange(0, time.Minute),
	"actions.group_idle_over": durRange(0, maxDuration),
	"alerts.*.for":            durRange(0, 7*day),
	"fleet.interval":          durRange(0, time.Hour),
	"fleet.window":            durRange(0, 7*day),
	"fleet.stale_after":       durRange(0, day),
	"fleet.max_live":          {lo: 1, hi: 50},
}

// checkConfigValues walks a mapping, checks every key of configRanges it
// holds and rewrites durations into Go's form for the decoder.
func checkConfigValues(n *yaml.Node, prefix string) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		if prefix == "alerts" {
			path = "alerts.*"
		}
		if r, ok := configRanges[path]; ok && val.Kind == yaml.ScalarNode {
			if err := checkConfigScalar(path, val, r); err != nil {
				return err
			}
		}
		if err := checkConfigValues(val, path); err != nil {
			return err
		}
	}
	return nil
}

func checkConfigScalar(path string, val *yaml.Node, r configRange) error {
	if !r.duration {
		if _, err := parseRanged(val.Value, r.lo, r.hi); err != nil {
			return fmt.Errorf("line %d: %s: %s %v", val.Line, path, display(val.Value), err)
		}
		return nil
	}
	d, err := checkDuration(val.Value, time.Duration(r.lo), time.Duration(r.hi))
	if err != nil {
		return fmt.Errorf("line %d: %s: %s %v", val.Line, path, display(val.Value), err)
	}
	val.Value, val.Tag, val.Style = d.String(), "!!str", 0
	return nil
}

func defaultConfigPath(env *environment) string {
	base := env.getenv("XDG_CONFIG_HOME")
	if base == "" {
		home := env.getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "slotwatch", "config.yaml")
}

func defaultAuditLog(env *environment) string {
	base := env.getenv("XDG_STATE_HOME")
	if base == "" {
		home := env.getenv("HOME")
		if home == "" {
			return filepath.Join(os.TempDir(), "slotwatch-audit.jsonl")
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "slotwatch", "audit.jsonl")
}

// libpqEnvVars name a PostgreSQL server the way psql finds one.
var libpqEnvVars = []struct{ env, key string }{
	{"PGHOST", "host"}, {"PGHOSTADDR", "hostaddr"}, {"PGPORT", "port"}, {"PGUSER", "user"},
	{"PGDATABASE", "dbname"}, {"PGSERVICE", "service"},
}

// libpqEnvTarget makes PGHOST, PGPORT, PGUSER, PGDATABASE (and PGHOSTADDR,
// PGSERVICE) a PostgreSQL target when nothing else names one: an on-call
// shell set up for psql then works with slotwatch unchanged. The DSN holds
// only those settings; the driver reads the rest (PGPASSWORD, PGSSLMODE,
// .pgpass) itself, so no password is copied into it. Empty when none is set.
func libpqEnvTarget(env *environment) (string, error) {
	var parts []string
	for _, v := range libpqEnvVars {
		val := env.getenv(v.env)
		if val == "" {
			continue
		}
		if v.env == "PGPORT" {
			if _, err := parseRanged(val, 1, 65535); err != nil {
				return "", fmt.Errorf("PGPORT %s %v", display(val), err)
			}
		}
		parts = append(parts, v.key+"="+quoteDSNValue(val))
	}
	return strings.Join(parts, " "), nil
}

// quoteDSNValue quotes a key=value DSN value as libpq does.
func quoteDSNValue(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// envEntry is the first of the variables that is set, as one server.
func envEntry(env *environment, names ...string) []serverEntry {
	for _, n := range names {
		if v := env.getenv(n); v != "" {
			return []serverEntry{{Target: v}}
		}
	}
	return nil
}

func firstList(lists ...[]serverEntry) []serverEntry {
	for _, l := range lists {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// alertRules returns the built-in alert rules with the config file's
// overrides applied; an unknown rule name is an error naming the valid ones.
func (s *settings) alertRules() ([]analysis.Rule, error) {
	overrides := make(map[string]analysis.Override, len(s.Alerts))
	for name, o := range s.Alerts {
		overrides[name] = analysis.Override{Threshold: o.Threshold, For: o.For, Disabled: o.Disabled}
	}
	rules, err := analysis.ApplyOverrides(analysis.DefaultRules(), overrides)
	if err != nil {
		return nil, fmt.Errorf("the config file's alerts section is not valid: %w", err)
	}
	return rules, nil
}

// policy is the default safety policy with the config file's additions:
// configured protected applications are added to the built-in ones, never
// replace them.
func (s *settings) policy() actions.Policy {
	p := actions.DefaultPolicy()
	p.ProtectedApps = append(p.ProtectedApps, s.Actions.ProtectedApps...)
	p.AllowSuperuser = s.Actions.AllowSuperuser
	if s.Actions.BatchSize > 0 {
		p.BatchSize = s.Actions.BatchSize
	}
	if s.Actions.BatchInterval > 0 {
		p.BatchInterval = s.Actions.BatchInterval
	}
	p.ReadOnly = s.ReadOnly
	return p
}
