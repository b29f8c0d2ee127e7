package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// NamedService is one server of a Fleet: its configured name, its kind
// (collectors.SourcePostgres or collectors.SourceRedis, as
// collectors.ServerInfo.Kind) and a Service whose driver of that kind acts
// on it. Primary marks the server a request without a Server goes to; when
// no member of a kind is marked, the first of that kind is its primary.
type NamedService struct {
	Name    string
	Kind    string
	Primary bool
	Service *Service
}

// FleetServer describes one member of a Fleet.
type FleetServer struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Target  string `json:"target"` // redacted, as the plans' Server
	Primary bool   `json:"primary"`
	// Available is false when the member has no driver (e.g. a read-only
	// command that connected to nothing).
	Available bool `json:"available"`
}

// Fleet runs actions on one of several servers. Previews go to the server
// the request names (SessionRequest.Server, RedisFilter.Server,
// GuardRequest.Server; "" is the primary of that kind); Execute, Decline
// and Previewed go to the server the plan names (ServerName), so a plan is
// always carried out where it was previewed. A name that is not
// configured is refused (RefusedError) and the refusal audited. Every
// member shares one audit log and one safety policy; plans and audit lines
// carry the member's name as ServerName.
//
// A Fleet has every method of tui.Mitigator and what the CLI and serve use
// of a Service, so callers can hold a Fleet for one server too
// (SingleFleet), where names stay empty and JSON is unchanged.
type Fleet struct {
	pg, rds []NamedService // the primary first
	// live finds servers attached while the console runs (nil: none);
	// shared by every copy, so all served sessions see one set.
	live LiveServers
}

// LiveServers are the servers attached live (collectors.Set.Attach): a
// name the fleet does not hold is looked up there at each request, so an
// action reaches an attached server and is refused once it is detached.
type LiveServers interface {
	// LiveDrivers is the driver of the attached server of that kind and
	// name; ok is false when none is attached by that name.
	LiveDrivers(kind, name string) (pg PGDriver, rds RedisDriver, ok bool)
}

// WithLive is f reaching the servers live attaches as well, each a member
// named by its attached name with the policy, audit log and operator of
// the fleet's own members.
func (f *Fleet) WithLive(live LiveServers) *Fleet {
	c := *f
	c.live = live
	return &c
}

// NewFleet builds a fleet from its members. Names must be unique (across
// kinds); a name may be empty only for the one member of its kind. Every
// member must share the same audit log.
func NewFleet(members ...NamedService) (*Fleet, error) {
	if len(members) == 0 {
		return nil, errors.New("a fleet needs at least one server")
	}
	f := &Fleet{}
	seen := map[string]bool{}
	audit := members[0].Service
	for _, m := range members {
		if err := checkMember(m, audit, seen); err != nil {
			return nil, err
		}
		seen[m.Name] = true
		m.Service = m.Service.member(m.Name, m.Kind)
		if m.Kind == collectors.SourcePostgres {
			f.pg = addMember(f.pg, m)
		} else {
			f.rds = addMember(f.rds, m)
		}
	}
	for _, list := range [][]NamedService{f.pg, f.rds} {
		if len(list) > 1 && list[0].Name == "" {
			return nil, fmt.Errorf("the %s servers need names when there are several", kindName(list[0].Kind))
		}
	}
	return f, nil
}

// member is s as a fleet member: named, and acting on its kind only (a
// service built with both drivers serves as two members).
func (s *Service) member(name, kind string) *Service {
	c := s.withName(name)
	if kind == collectors.SourcePostgres {
		c.rds = nil
	} else {
		c.pg = nil
	}
	return c
}

func checkMember(m NamedService, first *Service, seen map[string]bool) error {
	switch {
	case m.Service == nil:
		return fmt.Errorf("fleet server %q has no service", m.Name)
	case first == nil || m.Service.audit != first.audit:
		return fmt.Errorf("fleet server %q writes another audit log than the others; every server must share one", m.Name)
	case m.Kind != collectors.SourcePostgres && m.Kind != collectors.SourceRedis:
		return fmt.Errorf("fleet server %q has kind %q: use %q or %q", m.Name, m.Kind, collectors.SourcePostgres, collectors.SourceRedis)
	case m.Name != "" && seen[m.Name]:
		return fmt.Errorf("two servers are named %q; give each a unique name", m.Name)
	}
	return nil
}

// addMember appends m, moving it to the front when it is the primary.
func addMember(list []NamedService, m NamedService) []NamedService {
	if m.Primary {
		return append([]NamedService{m}, list...)
	}
	return append(list, m)
}

// SingleFleet is a fleet of one unnamed server of each kind: svc (with
// either or both drivers). It behaves exactly as svc.
func SingleFleet(svc *Service) *Fleet {
	return &Fleet{
		pg:  []NamedService{{Kind: collectors.SourcePostgres, Primary: true, Service: svc}},
		rds: []NamedService{{Kind: collectors.SourceRedis, Primary: true, Service: svc}},
	}
}

func kindName(kind string) string {
	if kind == collectors.SourceRedis {
		return "Redis"
	}
	return "PostgreSQL"
}

// each returns a fleet with fn applied to every member's service.
func (f *Fleet) each(fn func(*Service) *Service) *Fleet {
	c := &Fleet{pg: make([]NamedService, len(f.pg)), rds: make([]NamedService, len(f.rds)), live: f.live}
	done := map[*Service]*Service{} // a service in both lists (SingleFleet) stays one
	for _, pair := range []struct{ dst, src []NamedService }{{c.pg, f.pg}, {c.rds, f.rds}} {
		for i, m := range pair.src {
			if d, ok := done[m.Service]; ok {
				m.Service = d
			} else {
				d = fn(m.Service)
				done[m.Service], m.Service = d, d
			}
			pair.dst[i] = m
		}
	}
	return c
}

// WithOperator is the fleet for another operator (one per served SSH
// session).
func (f *Fleet) WithOperator(op Operator) *Fleet {
	return f.each(func(s *Service) *Service { return s.WithOperator(op) })
}

// AsViewer is the fleet refusing every action with ErrViewer.
func (f *Fleet) AsViewer() *Fleet { return f.each((*Service).AsViewer) }

// WithClock is the fleet stamping plans and audit lines with now.
func (f *Fleet) WithClock(now func() time.Time) *Fleet {
	return f.each(func(s *Service) *Service { return s.WithClock(now) })
}

// any is a member for what every member shares: audit log, policy,
// operator.
func (f *Fleet) any() *Service {
	if len(f.pg) > 0 {
		return f.pg[0].Service
	}
	return f.rds[0].Service
}

// Operator is who the fleet's audit lines name.
func (f *Fleet) Operator() Operator { return f.any().Operator() }

// ReadOnly reports whether every action is refused.
func (f *Fleet) ReadOnly() bool { return f.any().ReadOnly() }

// Policy is the safety policy in force.
func (f *Fleet) Policy() Policy { return f.any().Policy() }

// AuditPath is the shared audit log's file ("" in memory or absent).
func (f *Fleet) AuditPath() string { return f.any().AuditPath() }

// RecentAudit returns up to n newest audit entries, newest last.
func (f *Fleet) RecentAudit(n int) []AuditEntry { return f.any().RecentAudit(n) }

// HasPostgres and HasRedis report whether any server of that kind has a
// driver.
func (f *Fleet) HasPostgres() bool {
	for _, m := range f.pg {
		if m.Service.HasPostgres() {
			return true
		}
	}
	return false
}

func (f *Fleet) HasRedis() bool {
	for _, m := range f.rds {
		if m.Service.HasRedis() {
			return true
		}
	}
	return false
}

// Servers lists the members, PostgreSQL first, each kind's primary first.
func (f *Fleet) Servers() []FleetServer {
	var out []FleetServer
	for _, m := range f.pg {
		out = append(out, FleetServer{Name: m.Name, Kind: m.Kind, Target: m.Service.pgServer(), Primary: len(out) == 0, Available: m.Service.HasPostgres()})
	}
	first := len(out)
	for _, m := range f.rds {
		out = append(out, FleetServer{Name: m.Name, Kind: m.Kind, Target: m.Service.redisServer(), Primary: len(out) == first, Available: m.Service.HasRedis()})
	}
	return out
}

// Member is the service of the server named name (any kind; "" is the
// PostgreSQL primary, else the Redis one).
func (f *Fleet) Member(name string) (*Service, bool) {
	for _, list := range [][]NamedService{f.pg, f.rds} {
		for _, m := range list {
			if m.Name == name {
				return m.Service, true
			}
		}
	}
	return nil, false
}

// route finds the member of kind named name ("" is the primary). An
// unknown name is a RefusedError naming the configured servers.
func (f *Fleet) route(kind, name string) (*Service, error) {
	list := f.pg
	if kind == collectors.SourceRedis {
		list = f.rds
	}
	if name == "" && len(list) > 0 {
		return list[0].Service, nil
	}
	for _, m := range list {
		if m.Name == name {
			return m.Service, nil
		}
	}
	if name == "" {
		// Nothing of this kind: the Service says what to configure.
		return f.any(), nil
	}
	if s, ok := f.liveMember(kind, name); ok {
		return s, nil
	}
	names := make([]string, 0, len(list))
	for _, m := range list {
		if m.Name != "" {
			names = append(names, m.Name)
		}
	}
	known := "there is none"
	if len(names) > 0 {
		known = "the servers are " + strings.Join(names, ", ")
	}
	what := "configured"
	if f.live != nil {
		what = "configured or attached"
	}
	return nil, &RefusedError{Reason: fmt.Sprintf("no %s server named %q is %s; %s", kindName(kind), name, what, known)}
}

// liveMember is the attached server of kind named name as a member: the
// fleet's shared service (operator, viewer, clock) on its drivers.
func (f *Fleet) liveMember(kind, name string) (*Service, bool) {
	if f.live == nil {
		return nil, false
	}
	pg, rds, ok := f.live.LiveDrivers(kind, name)
	if !ok {
		return nil, false
	}
	c := *f.any()
	c.pg, c.rds = pg, rds
	return c.member(name, kind), true
}

// refuseUnknown audits a request for a server that is not configured and
// returns err.
func (f *Fleet) refuseUnknown(action, name, predicate string, err error) error {
	return f.any().withName(name).refuse(action, "", predicate, err)
}

// Refuse records an action the dashboard refused before any preview, on
// the primary of the action's kind (redis-… actions: Redis).
func (f *Fleet) Refuse(ctx context.Context, action, reason string) error {
	kind := collectors.SourcePostgres
	if strings.HasPrefix(action, "redis") {
		kind = collectors.SourceRedis
	}
	s, _ := f.route(kind, "")
	return s.Refuse(ctx, action, reason)
}

// RefuseOn is Refuse for the server named server.
func (f *Fleet) RefuseOn(ctx context.Context, server, action, reason string) error {
	kind := collectors.SourcePostgres
	if strings.HasPrefix(action, "redis") {
		kind = collectors.SourceRedis
	}
	s, err := f.route(kind, server)
	if err != nil {
		return f.refuseUnknown(action, server, "", err)
	}
	return s.Refuse(ctx, action, reason)
}

// ShowGuards lists the guards of every server (each value names its
// server in ServerName). A server that cannot be read does not hide the
// others: its error is returned, joined, with every value read.
func (f *Fleet) ShowGuards(ctx context.Context, role string) ([]GuardValue, error) {
	var out []GuardValue
	var errs []error
	shown := map[*Service]bool{} // SingleFleet: one service shows both kinds once
	for _, list := range [][]NamedService{f.pg, f.rds} {
		for _, m := range list {
			if shown[m.Service] {
				continue
			}
			shown[m.Service] = true
			values, err := m.Service.ShowGuards(ctx, role)
			out = append(out, values...)
			if err != nil {
				errs = append(errs, nameErr(m.Name, err))
			}
		}
	}
	return out, errors.Join(errs...)
}

func nameErr(name string, err error) error {
	if name == "" {
		return err
	}
	return fmt.Errorf("server %s: %w", name, err)
}

// ShowGuardsOn lists the guards of the server named server (either kind).
func (f *Fleet) ShowGuardsOn(ctx context.Context, server, role string) ([]GuardValue, error) {
	s, ok := f.Member(server)
	if !ok {
		names := make([]string, 0, len(f.pg)+len(f.rds))
		for _, srv := range f.Servers() {
			names = append(names, srv.Name)
		}
		return nil, &RefusedError{Reason: fmt.Sprintf("no server named %q is configured; the servers are %s", server, strings.Join(names, ", "))}
	}
	return s.ShowGuards(ctx, role)
}
