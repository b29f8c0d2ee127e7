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

func (m *sessionMitigator) Preview(ctx context.Context, req actions.Request) (actions.Plan, error) {
	defer m.srv.auditChanged()
	return m.svc.Preview(ctx, req)
}

// Execute runs the plan once no other operator's action holds any of its
// targets, then tells every session what was done: a target another
// operator ended first is named as theirs.
func (m *sessionMitigator) Execute(ctx context.Context, plan actions.Plan) (actions.Report, error) {
	defer m.srv.auditChanged()
	release, err := m.srv.claims.hold(ctx, plan.TargetIDs())
	if err != nil {
		reason := "another operator's action on these targets did not end in time; nothing was done: read the audit pane and preview again"
		return nil, m.svc.RefuseOn(context.WithoutCancel(ctx), plan.Where(), plan.ActionName(), reason)
	}
	defer release()
	rep, err := m.svc.Execute(ctx, plan)
	if err != nil {
		return rep, err
	}
	taken := m.srv.claims.settle(m.id.Name, rep)
	m.srv.announce(announcement(m.id.Name, rep, taken))
	return rep, nil
}

func (m *sessionMitigator) Decline(ctx context.Context, plan actions.Plan) error {
	defer m.srv.auditChanged()
	return m.svc.Decline(ctx, plan)
}

func (m *sessionMitigator) RecentAudit(n int) []actions.AuditEntry { return m.svc.RecentAudit(n) }

// announcement is what every session is told of an executed plan.
func announcement(who string, rep actions.Report, taken []takenBy) string {
	switch r := rep.(type) {
	case actions.SessionReport:
		return sessionAnnouncement(who, r, taken)
	case actions.RedisReport:
		return redisAnnouncement(who, r, taken)
	case actions.GuardResult:
		return guardAnnouncement(who, r)
	}
	p := rep.Executed()
	return fmt.Sprintf("%s %s%s", who, p.PastTense(), onServer(p.Where()))
}

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

type claim struct {
	by, verb string
	at       time.Time
}

// claims keeps two operators from acting on the same targets at once and
// remembers which operator acted on which target: the second operator's
// action waits for the first to end, its re-checked execution then finds
// the targets gone, and its result says who ended them.
type claims struct {
	mu   sync.Mutex
	done map[actions.TargetID]claim
	// busy are the targets of the actions running now, each with the
	// channel closed when its action ends; waits counts the holds that
	// had to wait (tests watch it).
	busy  map[actions.TargetID]chan struct{}
	waits int
	now   func() time.Time
}

func newClaims() *claims {
	return &claims{done: map[actions.TargetID]claim{}, busy: map[actions.TargetID]chan struct{}{}, now: time.Now}
}

// hold marks ids as being acted on until release is called. When another
// action holds any of them it waits for that action to end (or for ctx):
// all of ids are taken at once or none, so two holds never deadlock.
func (c *claims) hold(ctx context.Context, ids []actions.TargetID) (release func(), err error) {
	for {
		c.mu.Lock()
		wait := c.busyOf(ids)
		if wait == nil {
			done := make(chan struct{})
			for _, id := range ids {
				c.busy[id] = done
			}
			c.mu.Unlock()
			return func() { c.release(ids, done) }, nil
		}
		c.waits++
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// busyOf is the channel of an action holding one of ids, nil when none
// does. The caller holds c.mu.
func (c *claims) busyOf(ids []actions.TargetID) chan struct{} {
	for _, id := range ids {
		if ch, ok := c.busy[id]; ok {
			return ch
		}
	}
	return nil
}

func (c *claims) release(ids []actions.TargetID, done chan struct{}) {
	c.mu.Lock()
	for _, id := range ids {
		if c.busy[id] == done {
			delete(c.busy, id)
		}
	}
	c.mu.Unlock()
	close(done)
}

// takenBy counts the targets of one action that another operator had
// already ended, by operator, verb and the outcome they were reported as.
type takenBy struct {
	by, verb string
	outcome  actions.Outcome
	n        int
}

// settle records rep's done targets under who and annotates its gone and
// skipped ones that another operator took first, returning their counts.
// A target is its plan's TargetID: a pid with its backend_start, a client
// id on its node, on the plan's server.
func (c *claims) settle(who string, rep actions.Report) []takenBy {
	plan := rep.Executed()
	type ref struct {
		id   int64
		node string
	}
	ids := map[ref]actions.TargetID{}
	for _, t := range plan.TargetIDs() {
		ids[ref{t.ID, t.Node}] = t
	}
	verb := plan.PastTense()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, cl := range c.done {
		if now.Sub(cl.at) > claimWindow {
			delete(c.done, k)
		}
	}
	var taken []takenBy
	results := rep.Outcomes()
	for i := range results {
		r := &results[i]
		k, ok := ids[ref{r.ID, r.Node}]
		if !ok {
			continue
		}
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
