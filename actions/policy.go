package actions

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Policy is the safety policy every action obeys, whatever the caller.
type Policy struct {
	// ProtectedApps are application_name globs (and Redis client name globs)
	// that are never signalled or killed.
	ProtectedApps []string
	// AllowSuperuser permits signalling superuser sessions.
	AllowSuperuser bool
	// BatchSize targets are signalled, then the action waits BatchInterval,
	// so a mass terminate cannot stampede the server.
	BatchSize     int
	BatchInterval time.Duration
	// ReadOnly refuses every action with ErrReadOnly.
	ReadOnly bool
}

// BuiltinProtectedApps are always protected, whatever ProtectedApps says:
// slotwatch itself and the backup/restore tools.
func BuiltinProtectedApps() []string {
	return []string{"slotwatch", "slotwatch-*", "pg_dump", "pg_dumpall", "pg_basebackup", "pg_restore"}
}

// DefaultPolicy protects slotwatch itself and the backup/restore tools, and
// starts a batch of 50 targets every 200ms.
func DefaultPolicy() Policy {
	return Policy{
		ProtectedApps: BuiltinProtectedApps(),
		BatchSize:     50,
		BatchInterval: 200 * time.Millisecond,
	}
}

func (p Policy) batchSize() int {
	if p.BatchSize <= 0 {
		return 50
	}
	return p.BatchSize
}

// compiledPolicy is a Policy with its protected globs compiled once.
type compiledPolicy struct {
	Policy
	protected []matcher
}

// compile compiles the protected globs, the built-in ones included; an
// invalid glob protects only the exact name, so a typo never unprotects
// anything.
func (p Policy) compile() compiledPolicy {
	c := compiledPolicy{Policy: p}
	for _, g := range append(BuiltinProtectedApps(), p.ProtectedApps...) {
		if slices.ContainsFunc(c.protected, func(m matcher) bool { return m.pattern == g }) {
			continue
		}
		m, err := newMatcher(g)
		if err != nil || g == "" {
			m = matcher{pattern: g, re: regexp.MustCompile("^" + regexp.QuoteMeta(g) + "$")}
		}
		c.protected = append(c.protected, m)
	}
	return c
}

// protects returns the glob protecting name, if any.
func (p compiledPolicy) protects(name string) (string, bool) {
	for _, m := range p.protected {
		if m.match(name) {
			return m.pattern, true
		}
	}
	return "", false
}

// excludeSession says why the policy protects b, or "" when it may be
// signalled.
func (p compiledPolicy) excludeSession(b Backend, ownPID int32) string {
	switch {
	case b.Own || b.PID == ownPID:
		return "the console's own connection"
	case b.Replication || b.BackendType == "walsender":
		return "replication connection"
	case b.BackendType != "" && b.BackendType != "client backend":
		return fmt.Sprintf("not a client backend (%s)", b.BackendType)
	case b.Hidden:
		return "not visible to this role (its identity cannot be re-checked); grant pg_read_all_stats or pg_monitor"
	case b.Superuser && !p.AllowSuperuser:
		return "superuser session (set actions.allow_superuser: true to allow)"
	}
	if g, ok := p.protects(b.ApplicationName); ok {
		return fmt.Sprintf("protected application %q (actions.protected_apps: %s)", b.ApplicationName, g)
	}
	return ""
}

// Protection is the part of the policy that the signalling statement
// re-checks on the server, at the instant of the signal. The zero value
// protects nothing; the Service passes its policy's.
type Protection struct {
	policy *compiledPolicy
}

// protection is the policy's Protection.
func (p compiledPolicy) protection() Protection { return Protection{policy: &p} }

// Excludes says why the policy protects b (as it is now), or "" when it may
// be signalled. Drivers that re-check in memory (the demo) call it under
// the same lock as the signal.
func (p Protection) Excludes(b Backend, ownPID int32) string {
	if p.policy == nil {
		if b.Own || b.PID == ownPID {
			return "the console's own connection"
		}
		return ""
	}
	return p.policy.excludeSession(b, ownPID)
}

// AllowSuperuser reports whether superuser sessions may be signalled.
func (p Protection) AllowSuperuser() bool { return p.policy != nil && p.policy.AllowSuperuser }

// Protected returns the protected application globs and the anchored
// regular expressions they compile to (the same ones the preview matches
// with, understood alike by PostgreSQL's ~).
func (p Protection) Protected() (globs, regexps []string) {
	if p.policy == nil {
		return []string{}, []string{}
	}
	for _, m := range p.policy.protected {
		globs, regexps = append(globs, m.pattern), append(regexps, m.re.String())
	}
	return globs, regexps
}

// excludeRedis says why the policy protects c, or "" when it may be killed.
func (p compiledPolicy) excludeRedis(c collectors.RedisClient, ownID int64) string {
	switch {
	case c.ID == ownID:
		return "the console's own connection"
	case strings.ContainsAny(c.Flags, "SM"):
		return "replication link (flags " + c.Flags + ")"
	}
	if g, ok := p.protects(c.Name); ok && c.Name != "" {
		return fmt.Sprintf("protected client name %q (actions.protected_apps: %s)", c.Name, g)
	}
	return ""
}

// sessionMatcher is a compiled SessionFilter.
type sessionMatcher struct {
	f                       SessionFilter
	app, user, db, clientIP matcher
}

func compileSessionFilter(f SessionFilter) (sessionMatcher, error) {
	m := sessionMatcher{f: f}
	var err error
	for _, x := range []struct {
		dst     *matcher
		pattern string
	}{{&m.app, f.App}, {&m.user, f.User}, {&m.db, f.DB}, {&m.clientIP, f.Client}} {
		if *x.dst, err = newMatcher(x.pattern); err != nil {
			return m, err
		}
	}
	return m, nil
}

// matches reports whether b satisfies every predicate of the filter.
func (m sessionMatcher) matches(b Backend) bool {
	f := m.f
	return (len(f.PIDs) == 0 || slices.Contains(f.PIDs, b.PID)) &&
		(len(f.States) == 0 || slices.Contains(f.States, b.State)) &&
		(f.IdleOver <= 0 || b.StateSeconds > f.IdleOver.Seconds()) &&
		m.app.match(b.ApplicationName) && m.user.match(b.Usename) &&
		m.db.match(b.Datname) && m.clientIP.match(b.ClientAddr)
}

// Matches reports whether b satisfies every predicate of the filter, with
// the globs previews and the signalling statement use, so a simulated
// server (the demo) re-checks exactly as a real one. A bad glob is an error.
func (f SessionFilter) Matches(b Backend) (bool, error) {
	m, err := compileSessionFilter(f)
	if err != nil {
		return false, err
	}
	return m.matches(b), nil
}

// Empty reports whether the filter selects nothing specific, which would
// mean "every session": refused.
func (f SessionFilter) Empty() bool {
	return len(f.PIDs) == 0 && len(f.States) == 0 && f.IdleOver <= 0 &&
		f.App == "" && f.User == "" && f.DB == "" && f.Client == ""
}

// String is the predicate as one line, for previews and the audit log.
func (f SessionFilter) String() string {
	var parts []string
	if len(f.PIDs) > 0 {
		parts = append(parts, "pid in "+joinInts(f.PIDs))
	}
	if len(f.States) > 0 {
		parts = append(parts, "state in ("+strings.Join(f.States, ", ")+")")
	}
	if f.IdleOver > 0 {
		parts = append(parts, "in state over "+f.IdleOver.String())
	}
	for _, kv := range [][2]string{{"application", f.App}, {"user", f.User}, {"database", f.DB}, {"client", f.Client}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" = "+kv[1])
		}
	}
	if f.Limit > 0 {
		parts = append(parts, fmt.Sprintf("limit %d", f.Limit))
	}
	if len(parts) == 0 {
		return "(no filter)"
	}
	return strings.Join(parts, ", ")
}

// redisMatcher is a compiled RedisFilter.
type redisMatcher struct {
	f               RedisFilter
	host, name, lib matcher
}

func compileRedisFilter(f RedisFilter) (redisMatcher, error) {
	m := redisMatcher{f: f}
	var err error
	if m.host, err = newMatcher(f.Host); err != nil {
		return m, err
	}
	if m.name, err = newMatcher(f.Name); err != nil {
		return m, err
	}
	m.lib, err = newMatcher(f.Lib)
	return m, err
}

func (m redisMatcher) matches(c collectors.RedisClient) bool {
	f := m.f
	return (len(f.IDs) == 0 || slices.Contains(f.IDs, c.ID)) &&
		m.host.match(clientHost(c.Addr)) && m.name.match(c.Name) && m.lib.match(c.LibName) &&
		(f.IdleOver <= 0 || time.Duration(c.IdleSeconds)*time.Second > f.IdleOver) &&
		(f.AgeOver <= 0 || time.Duration(c.AgeSeconds)*time.Second > f.AgeOver)
}

// clientHost strips the port from a CLIENT LIST addr: ip:port, [ip6]:port
// or path:0 for a Unix socket.
func clientHost(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if end := strings.Index(addr, "]"); end > 0 {
			return addr[1:end]
		}
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// Empty reports whether the filter selects every client: refused.
func (f RedisFilter) Empty() bool {
	return len(f.IDs) == 0 && f.Host == "" && f.Name == "" && f.Lib == "" && f.IdleOver <= 0 && f.AgeOver <= 0
}

// String is the predicate as one line.
func (f RedisFilter) String() string {
	var parts []string
	if len(f.IDs) > 0 {
		parts = append(parts, "id in "+joinInts(f.IDs))
	}
	for _, kv := range [][2]string{{"host", f.Host}, {"name", f.Name}, {"lib-name", f.Lib}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" = "+kv[1])
		}
	}
	if f.IdleOver > 0 {
		parts = append(parts, "idle over "+f.IdleOver.String())
	}
	if f.AgeOver > 0 {
		parts = append(parts, "age over "+f.AgeOver.String())
	}
	if len(parts) == 0 {
		return "(no filter)"
	}
	return strings.Join(parts, ", ")
}

func joinInts[T int32 | int64](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return "(" + strings.Join(s, ", ") + ")"
}
