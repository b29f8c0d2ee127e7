package actions

import (
	"errors"
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/collectors"
)

// liveNames is a LiveServers of names only: routing is pure, the drivers
// are exercised against real servers in cmd's TestAttachActDetach.
type liveNames map[string]bool

func (l liveNames) LiveDrivers(kind, name string) (PGDriver, RedisDriver, bool) {
	return nil, nil, l[name]
}

// TestFleetRoutesToLiveServers: a name the fleet does not hold reaches an
// attached server, in every copy of the fleet (one per served session),
// under that copy's operator; once detached it is refused, naming both
// configured and attached.
func TestFleetRoutesToLiveServers(t *testing.T) {
	audit, err := OpenAuditLog("")
	if err != nil {
		t.Fatal(err)
	}
	live := liveNames{"live:db7:5432": true}
	base := SingleFleet(NewService(nil, nil, DefaultPolicy(), audit, Operator{})).WithLive(live)
	kim := base.WithOperator(Operator{User: "kim"})
	s, err := kim.route(collectors.SourcePostgres, "live:db7:5432")
	if err != nil || s.name != "live:db7:5432" || s.Operator().User != "kim" {
		t.Fatalf("route to the attached server: %+v, %v", s, err)
	}
	if viewer, err := kim.AsViewer().route(collectors.SourcePostgres, "live:db7:5432"); err != nil || !viewer.ReadOnly() {
		t.Fatalf("a viewer's copy reaches it read-only: %v", err)
	}
	delete(live, "live:db7:5432")
	_, err = kim.route(collectors.SourcePostgres, "live:db7:5432")
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "configured or attached") {
		t.Fatalf("after detach: %v", err)
	}
	if _, err := SingleFleet(NewService(nil, nil, DefaultPolicy(), audit, Operator{})).route(collectors.SourcePostgres, "live:db7:5432"); err == nil || strings.Contains(err.Error(), "attached") {
		t.Fatalf("a fleet without live servers: %v", err)
	}
}
