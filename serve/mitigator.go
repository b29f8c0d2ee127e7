package serve

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/tui"
)

// sessionMitigator is one session's tui.Mitigator: the shared fleet of
// services, one per server (drivers on the collectors' connections, so sessions cost no slot of
// their own; one policy; the one audit log) under the session's SSH
// identity, read-only for a viewer. Every call that may append to the
// audit log tells every session to refresh its audit pane; every executed
// action is announced to all.
type sessionMitigator struct {
	svc *actions.Fleet // routes each request to its server
	srv *Server
	id  Identity
}

func (s *Server) newMitigator(id Identity) *sessionMitigator {
	svc := s.cfg.Actions.WithOperator(operatorOf(id))
	if !id.Operator {
		svc = svc.AsViewer() // refuses everything, audited under the viewer
	}
	return &sessionMitigator{svc: svc, srv: s, id: id}
}

// operatorOf is the SSH identity as the audit log records it.
func operatorOf(id Identity) actions.Operator {
	return actions.Operator{User: id.Name, Fingerprint: id.Fingerprint, SSHClient: id.Addr}
}

var _ tui.Mitigator = (*sessionMitigator)(nil)

func (m *sessionMitigator) ReadOnly() bool { return m.svc.ReadOnly() }

// Refuse records an action key the dashboard refused (a viewer's K).
func (m *sessionMitigator) Refuse(ctx context.Context, action, reason string) error {
	defer m.srv.auditChanged()
	return m.svc.Refuse(ctx, action, reason)
}

func (m *sessionMitigator) PreviewSessions(ctx context.Context, req actions.SessionRequest) (actions.SessionPlan, error) {
	defer m.srv.auditChanged()
	plan, err := m.svc.PreviewSessions(ctx, req)
	return plan, err
}

func (m *sessionMitigator) ExecuteSessions(ctx context.Context, plan actions.SessionPlan) (actions.SessionReport, error) {
	defer m.srv.auditChanged()
	rep, err := m.svc.ExecuteSessions(ctx, plan)
	if err != nil {
		return rep, err
	}
	taken := m.srv.claims.sessions(m.id.Name, rep)
	m.srv.announce(sessionAnnouncement(m.id.Name, rep, taken))
	return rep, nil
}

func (m *sessionMitigator) DeclineSessions(ctx context.Context, plan actions.SessionPlan) error {
	defer m.srv.auditChanged()
	return m.svc.DeclineSessions(ctx, plan)
}

func (m *sessionMitigator) PreviewRedis(ctx context.Context, f actions.RedisFilter) (actions.RedisPlan, error) {
	defer m.srv.auditChanged()
	plan, err := m.svc.PreviewRedis(ctx, f)
	return plan, err
}

func (m *sessionMitigator) ExecuteRedis(ctx context.Context, plan actions.RedisPlan) (actions.RedisReport, error) {
	defer m.srv.auditChanged()
	rep, err := m.svc.ExecuteRedis(ctx, plan)
	if err != nil {
		return rep, err
	}
	taken := m.srv.claims.redis(m.id.Name, rep)
	m.srv.announce(redisAnnouncement(m.id.Name, rep, taken))
	return rep, nil
}

func (m *sessionMitigator) DeclineRedis(ctx context.Context, plan actions.RedisPlan) error {
	defer m.srv.auditChanged()
	return m.svc.DeclineRedis(ctx, plan)
}

func (m *sessionMitigator) PreviewGuardSet(ctx context.Context, req actions.GuardRequest) (actions.GuardPlan, error) {
	defer m.srv.auditChanged()
	plan, err := m.svc.PreviewGuardSet(ctx, req)
	return plan, err
}

func (m *sessionMitigator) ExecuteGuard(ctx context.Context, plan actions.GuardPlan) (actions.GuardResult, error) {
	defer m.srv.auditChanged()
	res, err := m.svc.ExecuteGuard(ctx, plan)
	if err != nil {
		return res, err
	}
	m.srv.announce(guardAnnouncement(m.id.Name, res))
	return res, nil
}

func (m *sessionMitigator) DeclineGuard(ctx context.Context, plan actions.GuardPlan) error {
	defer m.srv.auditChanged()
	return m.svc.DeclineGuard(ctx, plan)
}

func (m *sessionMitigator) RecentAudit(n int) []actions.AuditEntry { return m.svc.RecentAudit(n) }

// sessionAnnouncement is e.g. "kim terminated 22 sessions of talentflow-web
// (idle > 10m)".
// When none was done because another operator had just done them, it says
// so: "marcus: 17 already terminated by kim".
func sessionAnnouncement(who string, rep actions.SessionReport, taken []takenBy) string {
	c := actions.Counts(rep.Results)
	verb := "terminated"
	if rep.Plan.Request.Kind == actions.Cancel {
		verb = "cancelled the queries of"
	}
	scope := sessionScope(rep.Plan.Request.Filter)
	if scope != "" {
		scope = " of " + scope
	}
	scope += onServer(rep.Plan.ServerName)
	if c[actions.Done] == 0 {
		return nothingDone(who, "sessions"+scope, c, taken)
	}
	return fmt.Sprintf("%s %s %s", who, verb, plural(c[actions.Done], "session")) + scope + others(c, taken)
}

// nothingDone is the announcement of an action that found every target
// already ended: who and what happened to them, not "0 done".
func nothingDone(who, what string, c map[actions.Outcome]int, taken []takenBy) string {
	text := strings.TrimPrefix(others(c, taken), "; ")
	if len(taken) == 0 {
		return fmt.Sprintf("%s: nothing left to act on (%s): %s", who, what, text)
	}
	return who + ": " + text
}

// redisAnnouncement is e.g. "kim killed 59 Redis clients (name analytics-cache-*)".
func redisAnnouncement(who string, rep actions.RedisReport, taken []takenBy) string {
	c := actions.Counts(rep.Results)
	text := ""
	f := rep.Plan.Filter
	var scope []string
	for _, p := range [][2]string{{"host", f.Host}, {"name", f.Name}, {"lib", f.Lib}} {
		if p[1] != "" {
			scope = append(scope, p[0]+" "+p[1])
		}
	}
	if len(scope) > 0 {
		text += " (" + strings.Join(scope, ", ") + ")"
	}
	text += onServer(rep.Plan.ServerName)
	if c[actions.Done] == 0 {
		return nothingDone(who, "Redis clients"+text, c, taken)
	}
	return fmt.Sprintf("%s killed %s", who, plural(c[actions.Done], "Redis client")) + text + others(c, taken)
}

// guardAnnouncement is e.g. "kim set idle_session_timeout to 5min for role
// talentflow (done)".
func guardAnnouncement(who string, res actions.GuardResult) string {
	p := res.Plan
	value := "the server default"
	if p.New != nil {
		value = *p.New
	}
	text := fmt.Sprintf("%s set %s to %s", who, p.Setting, value)
	if p.Role != "" {
		text += " for role " + p.Role
	}
	return text + onServer(p.ServerName) + " (" + string(res.Outcome) + ")"
}

// onServer names the server an announcement is about when several are
// served ("" for one).
func onServer(name string) string {
	if name == "" {
		return ""
	}
	return " on " + name
}

func sessionScope(f actions.SessionFilter) string {
	var parts []string
	if f.App != "" {
		parts = append(parts, f.App)
	}
	for _, p := range [][2]string{{"user", f.User}, {"db", f.DB}, {"client", f.Client}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+p[1])
		}
	}
	if n := len(f.PIDs); n > 0 && n <= 3 {
		pids := make([]string, n)
		for i, p := range f.PIDs {
			pids[i] = fmt.Sprint(p)
		}
		parts = append(parts, "pid "+strings.Join(pids, ", "))
	}
	scope := strings.Join(parts, ", ")
	if f.IdleOver > 0 {
		scope += " (idle > " + shortDuration(f.IdleOver) + ")"
	}
	return strings.TrimSpace(scope)
}

// shortDuration is 10m rather than Go's 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// others are the targets not done: first those another operator ended
// ("17 already terminated by kim"), then the rest by outcome.
func others(c map[actions.Outcome]int, taken []takenBy) string {
	var parts []string
	rest := maps.Clone(c)
	for _, t := range taken {
		parts = append(parts, fmt.Sprintf("%d already %s by %s", t.n, t.verb, t.by))
		rest[t.outcome] -= t.n
	}
	for _, o := range []actions.Outcome{actions.Gone, actions.Skipped, actions.Failed} {
		if rest[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", rest[o], o))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// claimWindow is how long "who did this first" is remembered.
const claimWindow = 10 * time.Minute

// claimKey names a target across operators: a pid with its backend_start
// (a reused pid is another session), or a Redis client id (never reused by
// a server).
type claimKey struct {
	server string // ServerName of the plan: pids and client ids are per server
	redis  bool
	id     int64
	start  time.Time
}

type claim struct {
	by, verb string
	at       time.Time
}

// claims remembers which operator acted on which target, so that when two
// operators act on the same sessions at once the second one's result says
// what the first did (the re-checked execution already skipped them).
type claims struct {
	mu   sync.Mutex
	done map[claimKey]claim
	now  func() time.Time
}

func newClaims() *claims { return &claims{done: map[claimKey]claim{}, now: time.Now} }

// takenBy counts the targets of one action that another operator had
// already ended, by operator, verb and the outcome they were reported as.
type takenBy struct {
	by, verb string
	outcome  actions.Outcome
	n        int
}

// sessions records rep's done targets under who and annotates its gone and
// skipped ones that another operator took first, returning their counts.
func (c *claims) sessions(who string, rep actions.SessionReport) []takenBy {
	starts := make(map[int64]time.Time, len(rep.Plan.Targets))
	for _, b := range rep.Plan.Targets {
		starts[int64(b.PID)] = b.BackendStart
	}
	verb := "terminated"
	if rep.Plan.Request.Kind == actions.Cancel {
		verb = "cancelled"
	}
	server := rep.Plan.ServerName
	return c.settle(who, verb, rep.Results, func(id int64) claimKey { return claimKey{server: server, id: id, start: starts[id]} })
}

func (c *claims) redis(who string, rep actions.RedisReport) []takenBy {
	server := rep.Plan.ServerName
	return c.settle(who, "killed", rep.Results, func(id int64) claimKey { return claimKey{server: server, redis: true, id: id} })
}

func (c *claims) settle(who, verb string, results []actions.TargetResult, key func(int64) claimKey) []takenBy {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, cl := range c.done {
		if now.Sub(cl.at) > claimWindow {
			delete(c.done, k)
		}
	}
	var taken []takenBy
	for i := range results {
		r := &results[i]
		k := key(r.ID)
		switch r.Outcome {
		case actions.Done:
			c.done[k] = claim{by: who, verb: verb, at: now}
		case actions.Gone, actions.Skipped:
			if cl, ok := c.done[k]; ok && cl.by != who {
				note := fmt.Sprintf("%s by %s at %s", cl.verb, cl.by, cl.at.UTC().Format(time.TimeOnly))
				if r.Reason != "" {
					note = r.Reason + "; " + note
				}
				r.Reason = note
				taken = countTaken(taken, takenBy{by: cl.by, verb: cl.verb, outcome: r.Outcome, n: 1})
			}
		}
	}
	return taken
}

// countTaken adds t to the count of the same operator, verb and outcome.
func countTaken(taken []takenBy, t takenBy) []takenBy {
	for i := range taken {
		if x := &taken[i]; x.by == t.by && x.verb == t.verb && x.outcome == t.outcome {
			x.n += t.n
			return taken
		}
	}
	return append(taken, t)
}
