package actions_test

import (
	"context"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/tui"
)

// A Fleet is what the dashboard acts through, the refusal auditor
// included, as a Service is.
var (
	_ tui.Mitigator = (*actions.Fleet)(nil)
	_ interface {
		Refuse(ctx context.Context, action, reason string) error
	} = (*actions.Fleet)(nil)
)
