package tui

import (
	"fmt"

	"github.com/slotwatch/slotwatch/collectors"
)

// refusedText is the header's count of the connections the server refused
// in the last five minutes, from its own log ("refused 234/5m"). When the
// log cannot be read it says so, with what would fix it, and shows the
// probe's failures instead: the only refusals slotwatch then sees. Empty
// when the log is not watched (another server than the primary, an old
// recording).
func (h *headerPane) refusedText() string {
	r := h.c.frame.Snapshot.Refused
	if r == nil {
		return ""
	}
	if r.Readable {
		t := fmt.Sprintf("refused %d/5m", r.Last5m)
		if r.Last5m > 0 {
			t = h.c.st.critical.Render(t)
		}
		return t
	}
	t := "refused: log not readable"
	if r.Fix != "" {
		t += " (" + oneLine(r.Fix) + ")"
	}
	if h.c.frame.Snapshot.Probe == nil && h.c.status(collectors.SourceProbe).state == srcOff {
		return t + "; probe off"
	}
	probe := fmt.Sprintf("probe failures %d/5m", r.ProbeFailures5m)
	if r.ProbeFailures5m > 0 {
		probe = h.c.st.critical.Render(probe)
	}
	return t + "; " + probe
}

// refusedParts is refusedText as header parts: none when it is empty.
func (h *headerPane) refusedParts() []string {
	if t := h.refusedText(); t != "" {
		return []string{t}
	}
	return nil
}
