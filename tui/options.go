// Package tui is the live incident dashboard: bubbletea models that render
// analysis frames and ask a Mitigator to act. Update only stores state; every
// action runs in a returned tea.Cmd, and data arrives from a bridge goroutine
// that owns the analysis pipeline.
package tui

import (
	"context"
	"io"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
)

// Mode says where frames come from.
type Mode int

const (
	ModeLive   Mode = iota // collectors against real servers
	ModeDemo               // the built-in simulation
	ModeReplay             // a recording, played from precomputed frames
)

func (m Mode) String() string {
	switch m {
	case ModeDemo:
		return "DEMO"
	case ModeReplay:
		return "REPLAY"
	default:
		return "LIVE"
	}
}

// Mitigator is what the dashboard needs from actions.Service. A nil
// Mitigator means actions are unavailable (replay, or no server to act on).
type Mitigator interface {
	ReadOnly() bool
	// Preview, Execute and Decline are the action lifecycle, the same for
	// every kind (sessions, Redis clients, guards): see actions.Plan.
	Preview(ctx context.Context, req actions.Request) (actions.Plan, error)
	Execute(ctx context.Context, plan actions.Plan) (actions.Report, error)
	Decline(ctx context.Context, plan actions.Plan) error
	RecentAudit(n int) []actions.AuditEntry
}

// DefaultGroupIdleOver is N of G (terminate the group's sessions idle longer
// than N) when neither --group-idle-over nor actions.group_idle_over says.
const DefaultGroupIdleOver = 10 * time.Minute

// Options configure the dashboard.
type Options struct {
	Mode Mode
	// Feed is this dashboard's mailbox on the frame hub (live and demo
	// mode): the one analysis pipeline publishes to every viewer, and the
	// bridge goroutine sends the newest frame to the program, so a slow
	// terminal only skips frames of its own.
	Feed *analysis.FrameMailbox
	// RecordingErrors, when set, carries the recorder's failures to the
	// footer; the recorder runs beside the dashboard, never on its bridge.
	RecordingErrors <-chan error
	// Frames are the precomputed frames of a recording (replay mode), played
	// at ReplaySpeed (default 1: real time).
	Frames      []analysis.Frame
	ReplaySpeed float64
	// Mitigator runs actions; nil disables them.
	Mitigator Mitigator
	// Attacher attaches live collectors to an instance of the fleet view
	// (a / d there); nil: the view only shows how to watch it.
	Attacher Attacher
	// GroupIdleOver is N in "terminate all idle longer than N in this group"
	// (default 10m).
	GroupIdleOver time.Duration
	// Now is the clock (tests pin it); default time.Now.
	Now func() time.Time
	// NoColor renders without colour (NO_COLOR); Output is the terminal
	// (default os.Stdout) and Input the keyboard (default os.Stdin).
	NoColor bool
	Output  io.Writer
	Input   io.Reader
	// Title names the incident target in the header, e.g. "talentflow".
	Title string
	// Notice is shown in the footer at start, e.g. why actions on one server
	// are unavailable or how many lines of a recording were unreadable.
	Notice string

	// Viewer is who is looking when the dashboard is served over SSH
	// (`slotwatch serve`); nil for a local console. A viewer that is not an
	// operator is read-only whatever it presses, and the screen says so.
	Viewer *Viewer
	// Presence lists who is watching, e.g. ["kim (operator)", "marcus"];
	// nil outside serve. The header shows it; it is called from View, so it
	// must be cheap and safe for concurrent use.
	Presence func() []string
}

// Viewer is one SSH identity watching a served dashboard.
type Viewer struct {
	Name        string // SSH user name or the key's comment
	Fingerprint string // SHA256:… of the public key
	Addr        string // client address
	Operator    bool   // may act; otherwise read-only
}

// AnnounceMsg is sent to every served session when someone acts, e.g.
// "kim terminated 22 sessions of talentflow-web"; the footer shows it.
type AnnounceMsg struct{ Text string }

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GroupIdleOver <= 0 {
		o.GroupIdleOver = DefaultGroupIdleOver
	}
	return o
}
