package serve

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/tui"
)

type countingAttacher struct{ calls int }

func (c *countingAttacher) Attach(context.Context, collectors.FleetInstance) (collectors.ServerInfo, error) {
	c.calls++
	return collectors.ServerInfo{Name: "live:db:5432"}, nil
}

func (c *countingAttacher) Detach(context.Context, string) error { c.calls++; return nil }

// TestOnlyOperatorsAttach: every served session shares one collector set,
// so an operator's session gets the shared Attacher and a viewer's one
// that refuses in a sentence, never reaching it.
func TestOnlyOperatorsAttach(t *testing.T) {
	shared := &countingAttacher{}
	if got := sessionAttacher(shared, Identity{Name: "kim", Operator: true}); got != tui.Attacher(shared) {
		t.Fatalf("an operator's attacher is %T", got)
	}
	viewer := sessionAttacher(shared, Identity{Name: "marcus"})
	_, err := viewer.Attach(context.Background(), collectors.FleetInstance{})
	derr := viewer.Detach(context.Background(), "live:db:5432")
	if shared.calls != 0 || err == nil || !errors.Is(derr, errViewerAttach) || !strings.Contains(err.Error(), "only operators") {
		t.Fatalf("a viewer reached the shared attacher (%d calls) or was not refused: %v, %v", shared.calls, err, derr)
	}
	if sessionAttacher(nil, Identity{Name: "marcus"}) != nil {
		t.Fatal("a console without attaching gave a viewer an attacher")
	}
}
