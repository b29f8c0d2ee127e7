package tui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// replayStep is how often the player advances on the wall clock.
const replayStep = 250 * time.Millisecond

// replayState plays precomputed frames on a virtual clock.
type replayState struct {
	c       *common
	keys    replayKeys
	frames  []analysis.Frame
	idx     int
	at      time.Time // virtual time
	playing bool
	speed   float64
	gen     int // invalidates ticks of an earlier play
}

type replayTickMsg struct{ gen int }

// newReplay plays frames. A frame without Trend gets the trend window as a
// sub-slice of one shared series of points, so an hour-long recording does
// not hold a ten-minute copy per frame.
func newReplay(frames []analysis.Frame, keys replayKeys) *replayState {
	points := make([]collectors.Point, len(frames))
	for i := range frames {
		points[i] = collectors.PointOf(frames[i].Snapshot)
	}
	from := 0
	for i := range frames {
		for from < i && points[from].At.Before(frames[i].Snapshot.TakenAt.Add(-analysis.TrendWindow)) {
			from++
		}
		if frames[i].Trend == nil {
			frames[i].Trend = points[from : i+1 : i+1]
		}
	}
	r := &replayState{keys: keys, frames: frames, playing: true, speed: 1}
	if len(frames) > 0 {
		r.at = frames[0].Snapshot.TakenAt
	}
	return r
}

func (r *replayState) frame() (analysis.Frame, bool) {
	if r.idx < 0 || r.idx >= len(r.frames) {
		return analysis.Frame{}, false
	}
	return r.frames[r.idx], true
}

func (r *replayState) tickCmd() tea.Cmd {
	gen := r.gen
	return tea.Tick(replayStep, func(time.Time) tea.Msg { return replayTickMsg{gen: gen} })
}

// seek moves the virtual clock to t and shows the last frame taken by then.
func (r *replayState) seek(t time.Time) {
	if len(r.frames) == 0 {
		return
	}
	first, last := r.frames[0].Snapshot.TakenAt, r.frames[len(r.frames)-1].Snapshot.TakenAt
	if t.Before(first) {
		t = first
	}
	if t.After(last) {
		t = last
	}
	r.at = t
	r.idx = 0
	for i := range r.frames {
		if r.frames[i].Snapshot.TakenAt.After(t) {
			break
		}
		r.idx = i
	}
}

func (r *replayState) atEnd() bool { return r.idx >= len(r.frames)-1 }

func (r *replayState) status() string {
	state := "PLAYING"
	if !r.playing {
		state = "STOPPED"
		if r.atEnd() {
			state = "END"
		}
	}
	return fmt.Sprintf("%s ×%g frame %d/%d", state, r.speed, r.idx+1, len(r.frames))
}

// claims: the playback keys belong to the replay bar on the dashboard.
func (r *replayState) claims(msg tea.KeyMsg) bool {
	k := r.keys
	return key.Matches(msg, k.Play, k.Faster, k.Slower, k.Back, k.Forward) ||
		(len(r.frames) > 0 && key.Matches(msg, k.Start, k.End))
}

// Update advances the player on its tick and handles the playback keys;
// the frame it lands on goes to the root (replayFrameMsg).
func (r *replayState) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case replayTickMsg:
		return r.onTick(msg)
	case tea.KeyMsg:
		return r.onKey(msg)
	}
	return nil
}

func (r *replayState) onTick(msg replayTickMsg) tea.Cmd {
	if msg.gen != r.gen || !r.playing {
		return nil
	}
	before := r.idx
	r.seek(r.at.Add(time.Duration(float64(replayStep) * r.speed)))
	if r.idx != before {
		r.show()
	}
	if r.atEnd() {
		r.playing = false
		return nil
	}
	return r.tickCmd()
}

// show hands the frame at the virtual clock to the root.
func (r *replayState) show() {
	if f, ok := r.frame(); ok {
		r.c.send(replayFrameMsg{frame: f, at: r.at})
	}
}

func (r *replayState) onKey(msg tea.KeyMsg) tea.Cmd {
	k := r.keys
	switch {
	case key.Matches(msg, k.Play):
		r.playing = !r.playing
		r.gen++
		if r.playing {
			if r.atEnd() {
				r.seek(r.frames[0].Snapshot.TakenAt)
				r.show()
			}
			return r.tickCmd()
		}
		return nil
	case key.Matches(msg, k.Faster):
		r.speed = min(r.speed*2, 256)
	case key.Matches(msg, k.Slower):
		r.speed = max(r.speed/2, 0.25)
	case key.Matches(msg, k.Back):
		r.seek(r.at.Add(-time.Minute))
	case key.Matches(msg, k.Forward):
		r.seek(r.at.Add(time.Minute))
	case key.Matches(msg, k.Start) && len(r.frames) > 0:
		r.seek(r.frames[0].Snapshot.TakenAt)
	case key.Matches(msg, k.End) && len(r.frames) > 0:
		r.seek(r.frames[len(r.frames)-1].Snapshot.TakenAt)
	default:
		return nil
	}
	r.show()
	return nil
}

// SetSize: the replay bar is a flag in the title bar, sized with it.
func (r *replayState) SetSize(int, int) {}

// View is the player's state for the title bar.
func (r *replayState) View() string { return r.status() }

// ShortHelp are the playback keys the help line shows first.
func (r *replayState) ShortHelp() []key.Binding {
	return []key.Binding{r.keys.Play, r.keys.Back, r.keys.Forward}
}

// FullHelp is the short help, then the keys shown after the global ones.
func (r *replayState) FullHelp() [][]key.Binding {
	return [][]key.Binding{r.ShortHelp(), {r.keys.Faster, r.keys.Slower}}
}

// replayFrameMsg is the frame the player landed on, shown as arrived at.
type replayFrameMsg struct {
	frame analysis.Frame
	at    time.Time
}
