package tui

import (
	"slices"
	"time"
)

// announceFor is how long an announcement ("kim terminated 22 sessions of
// talentflow-web") stays in the status area: long enough to be read by
// someone glancing at a war-room screen.
const announceFor = 30 * time.Second

// announceKeep bounds the announcements remembered; more than this many
// within announceFor are a flood the audit pane lists anyway.
const announceKeep = 16

// announcement is one action of another operator as a served session
// hears it.
type announcement struct {
	text string
	at   time.Time
}

// announce queues text: two operators acting at once are both heard, each
// for its own announceFor, instead of the second replacing the first.
func (f *footerPane) announce(text string, at time.Time) {
	f.news = append(f.news, announcement{text: oneLine(text), at: at})
	if len(f.news) > announceKeep {
		f.news = slices.Clone(f.news[len(f.news)-announceKeep:])
	}
}

// announcements are those still shown at now, newest first.
func (f *footerPane) announcements(now time.Time) []announcement {
	var out []announcement
	for i := len(f.news) - 1; i >= 0; i-- {
		if a := f.news[i]; now.Sub(a.at) < announceFor {
			out = append(out, a)
		}
	}
	return out
}

// announceLines wraps one announcement to w cells under a hanging indent,
// so no word of it is cut at any width.
func (f *footerPane) announceLines(a announcement, w int) []string {
	tag := "ANNOUNCE "
	lines := wrapText(tag+a.at.UTC().Format("15:04:05")+" "+a.text, max(w-2, 10))
	for i, l := range lines {
		if i == 0 {
			lines[i] = "» " + f.c.st.warning.Render(tag) + l[len(tag):]
			continue
		}
		lines[i] = "  " + l
	}
	return lines
}

// newsBlock is the announcements shown at now within room lines, newest
// first: as many whole announcements as fit, and always the newest whole
// (newsRoom grows the footer for it).
func (f *footerPane) newsBlock(w, room int) []string {
	var out []string
	for i, a := range f.announcements(f.c.now) {
		lines := f.announceLines(a, w)
		if i > 0 && len(out)+len(lines) > room {
			break
		}
		out = append(out, lines...)
	}
	return out
}

// newsRoom is how many footer lines the announcements need at the
// screen's width (0 without one), so each is seen for its announceFor even
// when another operator acts at the same time: all of them, up to a
// quarter of the screen, and always the newest whole.
func (f *footerPane) newsRoom() int {
	n, most := 0, max(f.c.height/4, 1)
	for i, a := range f.announcements(f.c.now) {
		k := len(f.announceLines(a, f.c.width))
		if i > 0 && n+k > most {
			break
		}
		n += k
	}
	return n
}
