package serve

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
)

// TestClaimsHoldKeepsOperatorsApart: while kim's action holds pids 101
// and 102, sarah's action on 102 and 103 waits until kim's ends, an
// action on other targets does not wait, and a wait ends with its
// context.
func TestClaimsHoldKeepsOperatorsApart(t *testing.T) {
	c := newClaims()
	start := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	id := func(pid int64) actions.TargetID { return actions.TargetID{Server: "db", ID: pid, Start: start} }
	ctx := context.Background()

	releaseKim, err := c.hold(ctx, []actions.TargetID{id(101), id(102)})
	if err != nil {
		t.Fatal(err)
	}
	sarah := make(chan func(), 1)
	go func() {
		release, err := c.hold(ctx, []actions.TargetID{id(102), id(103)})
		if err != nil {
			t.Error(err)
			close(sarah)
			return
		}
		sarah <- release
	}()
	for c.waitCount() == 0 {
		runtime.Gosched()
	}
	select {
	case <-sarah:
		t.Fatal("sarah's action went ahead while kim's held pid 102")
	default:
	}

	// Other targets, and the same pid with another backend_start (a new
	// session), are not kim's.
	other, err := c.hold(ctx, []actions.TargetID{id(104), {Server: "db", ID: 101, Start: start.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	other()

	releaseKim()
	releaseSarah, ok := <-sarah
	if !ok {
		t.Fatal("sarah's hold failed")
	}

	// While sarah holds 103, a hold on it ends with its context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.hold(cctx, []actions.TargetID{id(103)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
	releaseSarah()
	again, err := c.hold(ctx, []actions.TargetID{id(101), id(102), id(103)})
	if err != nil {
		t.Fatalf("every target is free again: %v", err)
	}
	again()
}

func (c *claims) waitCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits
}
