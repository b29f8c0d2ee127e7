package actions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Guards: server-side timeouts that stop the bleeding without a deploy.
const (
	GuardIdleSession       = "idle_session_timeout"                // PostgreSQL 14+, per role
	GuardIdleInTransaction = "idle_in_transaction_session_timeout" // PostgreSQL 9.6+, per role
	GuardRedisTimeout      = "redis-timeout"                       // Redis CONFIG SET timeout (seconds)
)

// Guards lists the guard names.
func Guards() []string { return []string{GuardIdleSession, GuardIdleInTransaction, GuardRedisTimeout} }

func isPGGuard(name string) bool { return name == GuardIdleSession || name == GuardIdleInTransaction }

// RoleSetting is one role-wide setting from pg_db_role_setting.
type RoleSetting struct {
	Role  string `json:"role"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PGGuardDriver changes role settings; *PGConn implements it, and so may the
// demo.
type PGGuardDriver interface {
	Server() string
	ServerVersionNum() int
	RoleExists(ctx context.Context, role string) (bool, error)
	// RoleGuardSettings lists the role-wide (all databases) settings named
	// names, for role or, when role is "", for every role.
	RoleGuardSettings(ctx context.Context, role string, names []string) ([]RoleSetting, error)
	// ApplyRoleSetting runs AlterRoleStatement(role, name, value).
	ApplyRoleSetting(ctx context.Context, role, name string, value *string) error
}

// RedisGuardDriver reads and changes server configuration; *RedisConn
// implements it.
type RedisGuardDriver interface {
	Server() string
	ConfigGet(ctx context.Context, name string) (string, error)
	ConfigSet(ctx context.Context, name, value string) error
}

// GuardRequest asks to set (Value) or revert a guard. Role is required for
// the PostgreSQL guards.
type GuardRequest struct {
	// Server is as SessionRequest.Server.
	Server  string `json:"server,omitempty"`
	Setting string `json:"setting"`
	Role    string `json:"role,omitempty"`
	Value   string `json:"value,omitempty"`
}

// GuardPlan is a previewed guard change. Current and New are nil for "not
// set" (the server default applies; New nil means RESET).
type GuardPlan struct {
	Action  string `json:"action"` // guard-set or guard-revert
	Setting string `json:"setting"`
	Role    string `json:"role,omitempty"`
	Server  string `json:"server"` // redacted target
	// ServerName is as SessionPlan.ServerName.
	ServerName string  `json:"server_name,omitempty"`
	Current    *string `json:"current"`
	New        *string `json:"new"`
	Statement  string  `json:"statement"`
	RevertOf   string  `json:"revert_of,omitempty"`
	// Nodes are, on a Redis Cluster, each node's value now and what the
	// plan sets it to: the timeout is changed on every node, masters and
	// replicas. Current then is the nodes' common value (or says they
	// differ) and New what most of them get, for display.
	Nodes     []GuardNode `json:"nodes,omitempty"`
	Notes     []string    `json:"notes,omitempty"`
	PlannedAt time.Time   `json:"planned_at"`
}

// GuardResult is the outcome of an executed GuardPlan.
type GuardResult struct {
	Plan    GuardPlan `json:"plan"`
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
}

// GuardValue is the current value of one guard.
type GuardValue struct {
	Setting string `json:"setting"`
	Role    string `json:"role,omitempty"`
	Server  string `json:"server"`
	// ServerName is as SessionPlan.ServerName; Node is the Redis Cluster
	// node of a per-node value (one GuardValue per node).
	ServerName string  `json:"server_name,omitempty"`
	Node       string  `json:"node,omitempty"`
	Value      *string `json:"value"` // nil: not set for the role (server default)
	// RevertTo is what `guard revert` would restore, when the audit log
	// records a change slotwatch made; RevertOf names that change.
	RevertTo *string `json:"revert_to,omitempty"`
	RevertOf string  `json:"revert_of,omitempty"`
}

var pgTimeoutValue = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(us|ms|s|min|h|d)?$`)
var redisTimeoutValue = regexp.MustCompile(`^[0-9]+$`)

// AlterRoleStatement is the statement a PostgreSQL guard runs: ALTER ROLE …
// SET name = 'value', or RESET when value is nil. The role is quoted as an
// identifier and the value as a literal.
func AlterRoleStatement(role, name string, value *string) string {
	if value == nil {
		return fmt.Sprintf("ALTER ROLE %s RESET %s", identifier(role), name)
	}
	return fmt.Sprintf("ALTER ROLE %s SET %s = %s", identifier(role), name, quoteLiteral(*value))
}

func redisConfigStatement(value string) string { return "CONFIG SET timeout " + value }

// ShowGuards lists the guards' current values: the PostgreSQL ones for role
// (every role that has one when role is ""), and Redis timeout. Reading is
// allowed in read-only mode.
func (s *Service) ShowGuards(ctx context.Context, role string) ([]GuardValue, error) {
	var out []GuardValue
	if g, ok := s.pg.(PGGuardDriver); ok && s.pg != nil {
		if role != "" {
			if exists, err := g.RoleExists(ctx, role); err != nil || !exists {
				return nil, roleMissing(g, role, err)
			}
		}
		settings, err := g.RoleGuardSettings(ctx, role, []string{GuardIdleSession, GuardIdleInTransaction})
		if err != nil {
			return nil, fmt.Errorf("read role settings on %s: %w", g.Server(), err)
		}
		seen := map[[2]string]bool{}
		for _, rs := range settings {
			v := rs.Value
			out = append(out, GuardValue{Setting: rs.Name, Role: rs.Role, Server: g.Server(), Value: &v})
			seen[[2]string{rs.Name, rs.Role}] = true
		}
		if role != "" {
			for _, name := range []string{GuardIdleSession, GuardIdleInTransaction} {
				if !seen[[2]string{name, role}] {
					out = append(out, GuardValue{Setting: name, Role: role, Server: g.Server()})
				}
			}
		}
	}
	if nodes := s.redisGuardNodes(); len(nodes) > 0 {
		values, err := s.showNodeTimeouts(ctx, nodes)
		if err != nil {
			return nil, err
		}
		out = append(out, values...)
	} else if g, ok := s.rds.(RedisGuardDriver); ok && s.rds != nil {
		v, err := g.ConfigGet(ctx, "timeout")
		if err != nil {
			return nil, fmt.Errorf("read the Redis timeout on %s: %w", g.Server(), err)
		}
		out = append(out, GuardValue{Setting: GuardRedisTimeout, Server: g.Server(), Value: &v})
	}
	s.attachReverts(out)
	for i := range out {
		out[i].ServerName = s.name
	}
	return out, nil
}

func (s *Service) attachReverts(values []GuardValue) {
	entries, err := s.audit.all()
	if err != nil {
		return
	}
	for i := range values {
		v := &values[i]
		if set, ok := lastRevertible(entries, v.Setting, v.Role, v.Server); ok {
			v.RevertTo, v.RevertOf = set.Previous, set.ActionID
			if v.Node != "" {
				v.RevertTo = nodePrevious(set.Nodes, v.Node, v.Value)
			}
		}
	}
}

// PreviewGuardSet shows the current value and the statement that would set
// req.Value. It changes nothing.
func (s *Service) PreviewGuardSet(ctx context.Context, req GuardRequest) (GuardPlan, error) {
	plan, err := s.guardPlan(ctx, ActionGuardSet, req)
	if err != nil {
		return plan, err
	}
	if err := validGuardValue(req.Setting, req.Value); err != nil {
		return plan, err
	}
	v := strings.TrimSpace(req.Value)
	plan.New = &v
	for i := range plan.Nodes {
		plan.Nodes[i].New = &v
	}
	s.finishGuardPlan(&plan)
	return plan, nil
}

// PreviewGuardRevert shows the change `revert` would make: back to the
// value recorded before the newest guard-set slotwatch made (and has not
// reverted yet) for this setting, role and server. It changes nothing.
func (s *Service) PreviewGuardRevert(ctx context.Context, req GuardRequest) (GuardPlan, error) {
	plan, err := s.guardPlan(ctx, ActionGuardRevert, req)
	if err != nil {
		return plan, err
	}
	entries, err := s.audit.all()
	if err != nil {
		return plan, err
	}
	set, ok := lastRevertible(entries, plan.Setting, plan.Role, plan.Server)
	if !ok {
		return plan, fmt.Errorf("the audit log %s records no change of %s%s on %s to revert; set it by hand if needed",
			s.AuditPath(), plan.Setting, forRole(plan.Role), guardKey(plan.Server))
	}
	plan.New, plan.RevertOf = set.Previous, set.ActionID
	if len(plan.Nodes) > 0 || len(set.Nodes) > 0 {
		notes, err := revertNodes(&plan, set)
		if err != nil {
			return plan, err
		}
		plan.Notes = append(plan.Notes, notes...)
	} else if !sameValue(plan.Current, set.New) {
		plan.Notes = append(plan.Notes, fmt.Sprintf("the value is now %s, not the %s slotwatch set: someone changed it since; revert overwrites that",
			show(plan.Current), show(set.New)))
	}
	s.finishGuardPlan(&plan)
	return plan, nil
}

func forRole(role string) string {
	if role == "" {
		return ""
	}
	return " for role " + role
}

// guardPlan checks the request and reads the current value.
func (s *Service) guardPlan(ctx context.Context, action string, req GuardRequest) (GuardPlan, error) {
	plan := GuardPlan{Action: action, Setting: req.Setting, Role: req.Role, ServerName: s.name, PlannedAt: s.now().UTC()}
	switch {
	case isPGGuard(req.Setting):
		if err := s.checkAllowed(action, s.pgServer(), req.Setting+forRole(req.Role)); err != nil {
			return plan, err
		}
		g, ok := s.pg.(PGGuardDriver)
		if !ok || s.pg == nil {
			return plan, errors.New("no PostgreSQL target with guard support is configured; configure one to set a PostgreSQL guard")
		}
		plan.Server = g.Server()
		if req.Role == "" {
			return plan, fmt.Errorf("%s is set per role: name the role", req.Setting)
		}
		// Read first: a borrowed connection knows the server version only
		// once it has been used.
		cur, err := s.currentPG(ctx, g, req.Role, req.Setting)
		if err != nil {
			return plan, err
		}
		if req.Setting == GuardIdleSession && g.ServerVersionNum() < 140000 {
			return plan, fmt.Errorf("idle_session_timeout needs PostgreSQL 14 or newer (this server is %d); use idle_in_transaction_session_timeout or terminate idle sessions", g.ServerVersionNum())
		}
		plan.Current = cur
		return plan, nil
	case req.Setting == GuardRedisTimeout:
		if err := s.checkAllowed(action, s.redisServer(), req.Setting); err != nil {
			return plan, err
		}
		g, ok := s.rds.(RedisGuardDriver)
		if !ok || s.rds == nil {
			return plan, errors.New("no Redis target with guard support is configured; configure one to set the Redis timeout")
		}
		plan.Server = g.Server()
		if req.Role != "" {
			return plan, errors.New("the Redis timeout applies to the whole server, not to a role; name no role")
		}
		if nodes := s.redisGuardNodes(); len(nodes) > 0 {
			return s.clusterGuardPlan(ctx, plan, nodes)
		}
		v, err := g.ConfigGet(ctx, "timeout")
		if err != nil {
			return plan, fmt.Errorf("read the Redis timeout on %s: %w", plan.Server, err)
		}
		plan.Current = &v
		return plan, nil
	default:
		return plan, fmt.Errorf("unknown guard %q: use one of %s", req.Setting, strings.Join(Guards(), ", "))
	}
}

func (s *Service) currentPG(ctx context.Context, g PGGuardDriver, role, name string) (*string, error) {
	if ok, err := g.RoleExists(ctx, role); err != nil || !ok {
		return nil, roleMissing(g, role, err)
	}
	settings, err := g.RoleGuardSettings(ctx, role, []string{name})
	if err != nil {
		return nil, fmt.Errorf("read %s for role %s on %s: %w", name, role, g.Server(), err)
	}
	for _, rs := range settings {
		if rs.Role == role && rs.Name == name {
			v := rs.Value
			return &v, nil
		}
	}
	return nil, nil
}

func roleMissing(g PGGuardDriver, role string, err error) error {
	if err != nil {
		return fmt.Errorf("look up role %s on %s: %w", role, g.Server(), err)
	}
	return fmt.Errorf("there is no role %q on %s; check the name (psql: \\du)", role, g.Server())
}

func validGuardValue(setting, value string) error {
	value = strings.TrimSpace(value)
	if setting == GuardRedisTimeout {
		if !redisTimeoutValue.MatchString(value) {
			return fmt.Errorf("the Redis timeout %q is not a whole number of seconds (0 turns it off)", value)
		}
		return nil
	}
	if !pgTimeoutValue.MatchString(value) {
		return fmt.Errorf("%q is not a PostgreSQL duration for %s: use e.g. 5min, 300s, 30000ms or 0 (off)", value, setting)
	}
	return nil
}

func (s *Service) finishGuardPlan(plan *GuardPlan) {
	if plan.Setting == GuardRedisTimeout {
		v := "0"
		if plan.New != nil {
			v = *plan.New
		}
		plan.Statement = redisConfigStatement(v)
		if len(plan.Nodes) > 0 {
			plan.Statement = clusterConfigStatement(plan.Nodes)
			plan.Notes = append(plan.Notes, fmt.Sprintf("a Redis Cluster: the timeout is changed on each of its %d nodes, masters and replicas, one by one; if one refuses, those already changed are set back", len(plan.Nodes)))
		}
		plan.Notes = append(plan.Notes, "Redis closes clients idle longer than this many seconds, existing ones included, except blocked, Pub/Sub and replica clients; closing can lag a little")
		return
	}
	plan.Statement = AlterRoleStatement(plan.Role, plan.Setting, plan.New)
	plan.Notes = append(plan.Notes, fmt.Sprintf("applies to new sessions of role %s only; sessions already open keep their value until they reconnect (terminate the idle ones to apply it now)", plan.Role))
}

// ExecuteGuard applies a previewed guard change if the value is still what
// the preview showed, recording intent and result in the audit log.
func (s *Service) ExecuteGuard(ctx context.Context, plan GuardPlan) (GuardResult, error) {
	res := GuardResult{Plan: plan}
	req := GuardRequest{Setting: plan.Setting, Role: plan.Role}
	fresh, err := s.guardPlan(ctx, plan.Action, req)
	if err != nil {
		return res, err
	}
	if fresh.Server != plan.Server {
		return res, fmt.Errorf("the plan was previewed on %s, not on %s: preview again", plan.Server, fresh.Server)
	}
	rep, err := s.recorded(plan, func(string) (Report, error) {
		var err error
		if changed := nodesChanged(fresh.Nodes, plan.Nodes); changed != "" {
			res.Outcome, res.Reason = Skipped, changed
		} else if !sameValue(fresh.Current, plan.Current) {
			res.Outcome, res.Reason = Skipped, fmt.Sprintf("the value changed since the preview (now %s, was %s); preview again", show(fresh.Current), show(plan.Current))
		} else if err = s.applyGuard(ctx, plan); err != nil {
			res.Outcome, res.Reason = Failed, err.Error()
		} else {
			res.Outcome = Done
		}
		return res, err
	})
	return rep.(GuardResult), err
}

func (s *Service) applyGuard(ctx context.Context, plan GuardPlan) error {
	if plan.Setting == GuardRedisTimeout && len(plan.Nodes) > 0 {
		return s.applyNodeTimeouts(ctx, plan.Nodes)
	}
	if plan.Setting == GuardRedisTimeout {
		v := "0"
		if plan.New != nil {
			v = *plan.New
		}
		return s.rds.(RedisGuardDriver).ConfigSet(ctx, "timeout", v)
	}
	return s.pg.(PGGuardDriver).ApplyRoleSetting(ctx, plan.Role, plan.Setting, plan.New)
}

func (s *Service) guardEntry(id, phase string, plan GuardPlan) AuditEntry {
	e := s.entry(id, phase, plan.Action, plan.Server)
	e.Predicate = plan.Setting + forRole(plan.Role)
	e.Statement = plan.Statement
	e.Confirmed = phase == PhaseIntent || phase == PhaseResult
	e.Setting, e.Role, e.Previous, e.New = plan.Setting, plan.Role, plan.Current, plan.New
	e.RevertOf = plan.RevertOf
	e.Nodes = plan.Nodes
	if phase != PhaseResult {
		e.Notes = plan.Notes
	}
	return e
}

// lastRevertible finds the newest successful guard-set for the setting, role
// and server that no successful guard-revert has undone yet. Sets and
// reverts nest like a stack, so repeated reverts walk back step by step.
func lastRevertible(entries []AuditEntry, setting, role, server string) (AuditEntry, bool) {
	var stack []AuditEntry
	key := guardKey(server)
	for _, e := range entries {
		if e.Phase != PhaseResult || e.Outcome != Done || e.Setting != setting || e.Role != role || guardKey(e.Server) != key {
			continue
		}
		switch e.Action {
		case ActionGuardSet:
			stack = append(stack, e)
		case ActionGuardRevert:
			if i := slices.IndexFunc(stack, func(x AuditEntry) bool { return x.ActionID == e.RevertOf }); i >= 0 {
				stack = slices.Delete(stack, i, i+1)
			}
		}
	}
	if len(stack) == 0 {
		return AuditEntry{}, false
	}
	return stack[len(stack)-1], true
}

// guardKey is the server part of a target: role settings and Redis CONFIG
// are server-wide, whatever database the console connected to.
func guardKey(server string) string {
	if i := strings.LastIndexByte(server, '/'); i > 0 {
		return server[:i]
	}
	return server
}

func sameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func show(v *string) string {
	if v == nil {
		return "not set"
	}
	return *v
}

// ShowValue renders a guard value: the value, or "not set".
func ShowValue(v *string) string { return show(v) }

// ShowGuardValue renders a guard value with the unit the server applies to
// it: a number without a unit is milliseconds for PostgreSQL's timeouts
// ("5" -> "5ms") and seconds for Redis's ("300" -> "300s"), so a preview
// never hides that 5 means 5 ms.
func ShowGuardValue(setting string, v *string) string {
	if v == nil {
		return show(v)
	}
	s := strings.TrimSpace(*v)
	if s == "" || s == "0" || strings.Trim(s, "0123456789.") != "" {
		return s
	}
	if setting == GuardRedisTimeout {
		return s + "s"
	}
	return s + "ms"
}
