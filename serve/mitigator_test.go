package serve

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
)

// TestSecondOperatorIsToldWhoActedFirst: when two operators terminate the
// same sessions, the one who came second sees in the result who already
// terminated them; a reused pid (another backend_start) is not confused.
func TestSecondOperatorIsToldWhoActedFirst(t *testing.T) {
	c := newClaims()
	at := time.Date(2024, 1, 21, 15, 12, 3, 0, time.UTC)
	c.now = func() time.Time { return at }
	start := at.Add(-30 * time.Minute)
	plan := actions.SessionPlan{Request: actions.SessionRequest{Kind: actions.Terminate},
		Targets: []actions.Backend{{PID: 101, BackendStart: start}, {PID: 102, BackendStart: start}}}
	c.settle("kim", actions.SessionReport{Plan: plan, Results: []actions.TargetResult{
		{ID: 101, Outcome: actions.Done}, {ID: 102, Outcome: actions.Done}}})

	second := actions.SessionReport{Plan: plan, Results: []actions.TargetResult{
		{ID: 101, Outcome: actions.Gone}, {ID: 102, Outcome: actions.Skipped, Reason: "backend_start changed"}}}
	c.settle("sarah", second)
	if got := second.Results[0].Reason; got != "terminated by kim at 15:12:03" {
		t.Fatalf("gone target reason %q", got)
	}
	if got := second.Results[1].Reason; got != "backend_start changed; terminated by kim at 15:12:03" {
		t.Fatalf("skipped target reason %q", got)
	}

	reused := actions.SessionPlan{Request: plan.Request, Targets: []actions.Backend{{PID: 101, BackendStart: at}}}
	third := actions.SessionReport{Plan: reused, Results: []actions.TargetResult{{ID: 101, Outcome: actions.Gone}}}
	c.settle("sarah", third)
	if third.Results[0].Reason != "" {
		t.Fatalf("a reused pid was attributed to kim: %q", third.Results[0].Reason)
	}
	mine := actions.SessionReport{Plan: plan, Results: []actions.TargetResult{{ID: 101, Outcome: actions.Gone}}}
	c.settle("kim", mine)
	if mine.Results[0].Reason != "" {
		t.Fatalf("kim was told about his own action: %q", mine.Results[0].Reason)
	}
}

func TestAnnouncements(t *testing.T) {
	rep := actions.SessionReport{
		Plan: actions.SessionPlan{Request: actions.SessionRequest{Kind: actions.Terminate,
			Filter: actions.SessionFilter{App: "talentflow-web", IdleOver: 10 * time.Minute}}},
		Results: make([]actions.TargetResult, 24),
	}
	for i := range rep.Results {
		rep.Results[i] = actions.TargetResult{ID: int64(i), Outcome: actions.Done}
	}
	rep.Results[23].Outcome = actions.Gone
	if got, want := sessionAnnouncement("kim", rep, nil), "kim terminated 23 sessions of talentflow-web (idle > 10m); 1 already gone"; got != want {
		t.Fatalf("announcement %q, want %q", got, want)
	}
	rr := actions.RedisReport{Plan: actions.RedisPlan{Filter: actions.RedisFilter{Name: "analytics-cache-*"}},
		Results: []actions.TargetResult{{ID: 7, Outcome: actions.Done}}}
	if got := redisAnnouncement("kim", rr, nil); got != "kim killed 1 Redis client (name analytics-cache-*)" {
		t.Fatalf("announcement %q", got)
	}
}

func TestPresenceListsOperatorsFirstThenByName(t *testing.T) {
	r := newRoster()
	for _, id := range []Identity{{Name: "sarah"}, {Name: "kim", Operator: true}, {Name: "marcus"}} {
		r.join(&sshSession{id: id})
	}
	if got := strings.Join(r.presence(), ", "); got != "kim (operator), marcus, sarah" {
		t.Fatalf("presence %q", got)
	}
}

func TestOutboxDropsOldestAnnouncementWhenFull(t *testing.T) {
	o := newOutbox()
	for i := range announceQueue + 3 {
		o.postAnnouncement(i)
	}
	if first := <-o.announce; first != 3 {
		t.Fatalf("oldest kept announcement is %v, want 3 (the three oldest dropped)", first)
	}
	o.postAuditChanged()
	o.postAuditChanged() // never blocks: one pending signal is enough
	if len(o.audit) != 1 {
		t.Fatalf("%d audit signals pending", len(o.audit))
	}
}

// TestFleetAnnouncementsAndClaimsNameTheServer: with several servers an
// announcement says which server was acted on, and the same pid on two
// servers is two targets, so one operator's terminate on the primary is
// not reported to another acting on the replica.
func TestFleetAnnouncementsAndClaimsNameTheServer(t *testing.T) {
	start := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	plan := func(server string) actions.SessionPlan {
		return actions.SessionPlan{ServerName: server, Request: actions.SessionRequest{Kind: actions.Terminate,
			Filter: actions.SessionFilter{App: "web"}}, Targets: []actions.Backend{{PID: 101, BackendStart: start}}}
	}
	onPrimary := actions.SessionReport{Plan: plan("primary"), Results: []actions.TargetResult{{ID: 101, Outcome: actions.Done}}}
	if got, want := sessionAnnouncement("kim", onPrimary, nil), "kim terminated 1 session of web on primary"; got != want {
		t.Fatalf("announcement %q, want %q", got, want)
	}
	c := newClaims()
	c.settle("kim", onPrimary)
	onReplica := actions.SessionReport{Plan: plan("replica-1"), Results: []actions.TargetResult{{ID: 101, Outcome: actions.Gone}}}
	c.settle("sarah", onReplica)
	if r := onReplica.Results[0].Reason; r != "" {
		t.Fatalf("pid 101 on replica-1 was attributed to kim's terminate on primary: %q", r)
	}
	rr := actions.RedisReport{Plan: actions.RedisPlan{ServerName: "cache", Filter: actions.RedisFilter{Name: "leak-*"}},
		Results: []actions.TargetResult{{ID: 7, Outcome: actions.Done}}}
	if got, want := redisAnnouncement("kim", rr, nil), "kim killed 1 Redis client (name leak-*) on cache"; got != want {
		t.Fatalf("redis announcement %q, want %q", got, want)
	}
}

// TestAnnouncementSaysWhoEndedThemFirst: when kim terminated 17 sessions
// and marcus's terminate of the same ones finds them all gone, marcus's
// announcement says kim had, not "marcus terminated 0 sessions".
func TestAnnouncementSaysWhoEndedThemFirst(t *testing.T) {
	c := newClaims()
	start := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	plan := actions.SessionPlan{Request: actions.SessionRequest{Kind: actions.Terminate,
		Filter: actions.SessionFilter{App: "talentflow-web"}}}
	done, gone := actions.SessionReport{Plan: plan}, actions.SessionReport{Plan: plan}
	for i := range 18 {
		plan.Targets = append(plan.Targets, actions.Backend{PID: int32(100 + i), BackendStart: start})
	}
	done.Plan, gone.Plan = plan, plan
	for i := range 17 {
		done.Results = append(done.Results, actions.TargetResult{ID: int64(100 + i), Outcome: actions.Done})
		gone.Results = append(gone.Results, actions.TargetResult{ID: int64(100 + i), Outcome: actions.Gone})
	}
	if got, want := sessionAnnouncement("kim", done, c.settle("kim", done)), "kim terminated 17 sessions of talentflow-web"; got != want {
		t.Fatalf("kim's announcement %q, want %q", got, want)
	}
	if got, want := sessionAnnouncement("marcus", gone, c.settle("marcus", gone)), "marcus: 17 already terminated by kim"; got != want {
		t.Fatalf("marcus's announcement %q, want %q", got, want)
	}
	gone.Results = append(gone.Results, actions.TargetResult{ID: 117, Outcome: actions.Gone})
	if got, want := sessionAnnouncement("sarah", gone, c.settle("sarah", gone)), "sarah: 17 already terminated by kim, 1 already gone"; got != want {
		t.Fatalf("sarah's announcement %q, want %q", got, want)
	}
	alone := actions.SessionReport{Plan: plan, Results: []actions.TargetResult{{ID: 117, Outcome: actions.Gone}}}
	if got, want := sessionAnnouncement("kim", alone, nil), "kim: nothing left to act on (sessions of talentflow-web): 1 already gone"; got != want {
		t.Fatalf("announcement %q, want %q", got, want)
	}
}
