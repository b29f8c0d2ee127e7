package tui

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/spark"
)

// timelineSpan is how far back the live timeline looks.
const timelineSpan = time.Hour

// timelineAuditEvery is how often an open live timeline rereads the audit
// log for its action markers.
const timelineAuditEvery = 5 * time.Second

// maxEpisodes bounds the alert episodes kept: an hour of a flapping rule
// must not grow without limit.
const maxEpisodes = 512

// auditSource is the part of the Mitigator the action markers read.
type auditSource interface {
	RecentAudit(n int) []actions.AuditEntry
}

// timelineKeys open and close the timeline.
type timelineKeys struct {
	Open, Close key.Binding
}

func newTimelineKeys() timelineKeys {
	return timelineKeys{
		Open:  bind([]string{"T"}, "T", "timeline"),
		Close: bind([]string{"esc", "T", "backspace"}, "esc/T", "close timeline"),
	}
}

// alertEpisode is one stretch of a rule in pending or firing, as the
// frames reported it: Alert.Since is its start, the last frame seeing it
// its end, so frames skipped by a slow terminal lose nothing.
type alertEpisode struct {
	rule     string
	state    analysis.AlertState
	from, to time.Time
}

// timelineAuditMsg carries the audit entries behind the action markers.
type timelineAuditMsg struct {
	entries []actions.AuditEntry
	at      time.Time
}

// timelineView is the T view: slots by state, Redis clients and pgbouncer
// waiting over the last hour (live) or the whole recording (replay), with
// alert bands, outages and action markers on one UTC time axis.
type timelineView struct {
	st            styles
	keys          timelineKeys
	width, height int
	replay        bool
	audit         auditSource
	// hist holds the points of every frame received (live: an hour at
	// the sources' intervals; replay: the whole recording).
	hist     *collectors.History
	episodes []alertEpisode
	actions  []actions.AuditEntry
	auditAt  time.Time
	open     bool
	// pos is the right edge live (the newest frame) and replay's virtual
	// clock; first and last bound a recording.
	pos, first, last time.Time
	// configured says which sources the newest frame watches: a source
	// not watched gets a line saying so instead of an empty chart.
	configured map[string]bool
	// rev counts the changes of what View draws; drawn is the view of
	// drawnRev, so a key or a tick does not redraw an hour.
	rev, drawnRev int
	drawn         string
}

// newTimeline builds the live view. audit may be nil (no Mitigator: no
// action markers).
func newTimeline(st styles, audit auditSource) *timelineView {
	return &timelineView{st: st, keys: newTimelineKeys(), audit: audit, configured: map[string]bool{}}
}

// load makes the view a recording's: the whole of it, following replay's
// position.
func (v *timelineView) load(frames []analysis.Frame) {
	v.rev++
	v.replay, v.audit = true, nil
	v.hist = collectors.NewHistory(max(len(frames), 1))
	for i := range frames {
		v.add(frames[i])
	}
	if len(frames) > 0 {
		v.first, v.last = frames[0].Snapshot.TakenAt, frames[len(frames)-1].Snapshot.TakenAt
		v.pos = v.first
	}
}

// SetSize gives the view its cells.
func (v *timelineView) SetSize(width, height int) {
	if width != v.width || height != v.height {
		v.width, v.height = width, height
		v.rev++
	}
}

// ShortHelp is the keys of the open view.
func (v *timelineView) ShortHelp() []key.Binding { return []key.Binding{v.keys.Close} }

// FullHelp lists the view's keys.
func (v *timelineView) FullHelp() [][]key.Binding {
	return [][]key.Binding{{v.keys.Open, v.keys.Close}}
}

// Update handles the audit entries and, while open and live, rereads them
// every timelineAuditEvery on the clock's tick.
func (v *timelineView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case timelineAuditMsg:
		v.actions, v.auditAt = msg.entries, msg.at
		v.rev++
	case tickMsg:
		if v.open && time.Time(msg).Sub(v.auditAt) >= timelineAuditEvery {
			return v.auditCmd(time.Time(msg))
		}
	}
	return nil
}

// setOpen opens or closes the view; opening rereads the audit log.
func (v *timelineView) setOpen(open bool, now time.Time) tea.Cmd {
	v.open = open
	if open {
		return v.auditCmd(now)
	}
	return nil
}

func (v *timelineView) auditCmd(now time.Time) tea.Cmd {
	if v.audit == nil || v.replay {
		return nil
	}
	src := v.audit
	v.auditAt = now // one read in flight at a time
	return func() tea.Msg { return timelineAuditMsg{entries: src.RecentAudit(200), at: now} }
}

// follow is called with every frame the dashboard shows; at is replay's
// virtual clock (live: when the frame arrived).
func (v *timelineView) follow(f analysis.Frame, at time.Time) {
	v.rev++
	if v.replay {
		v.pos = at
		return
	}
	if v.hist == nil {
		v.hist = collectors.NewHistoryFor(timelineSpan, f.Snapshot.IntervalSeconds)
	}
	v.add(f)
	v.pos = f.Snapshot.TakenAt
	v.prune()
}

// add records the frame's points (the trend's newer than the newest held,
// so frames a slow terminal skipped are filled in) and its alerts.
func (v *timelineView) add(f analysis.Frame) {
	last, ok := v.hist.Last()
	pushed := false
	for _, p := range f.Trend {
		if !ok || p.At.After(last.At) {
			v.push(p)
			last, ok, pushed = p, true, true
		}
	}
	if !pushed && (!ok || f.Snapshot.TakenAt.After(last.At)) {
		v.push(collectors.PointOf(f.Snapshot))
	}
	s := &f.Snapshot
	for _, name := range []string{collectors.SourcePostgres, collectors.SourceRedis, collectors.SourcePgBouncer} {
		if s.Source(name).Configured() {
			v.configured[name] = true
		}
	}
	for _, a := range f.Alerts {
		if a.State == analysis.Pending || a.State == analysis.Firing {
			v.extend(a, f.Snapshot.TakenAt)
		}
	}
}

// push keeps the point without its Redis groups: the timeline draws
// totals only.
func (v *timelineView) push(p collectors.Point) {
	p.RedisGroups = nil
	v.hist.Push(p)
}

func (v *timelineView) extend(a analysis.Alert, at time.Time) {
	for i := len(v.episodes) - 1; i >= 0 && i >= len(v.episodes)-64; i-- {
		e := &v.episodes[i]
		if e.rule == a.Name && e.state == a.State && e.from.Equal(a.Since) {
			e.to = at
			return
		}
	}
	v.episodes = append(v.episodes, alertEpisode{rule: a.Name, state: a.State, from: a.Since, to: at})
	if len(v.episodes) > maxEpisodes {
		v.episodes = append(v.episodes[:0], v.episodes[len(v.episodes)-maxEpisodes:]...)
	}
}

// prune forgets alert episodes that ended before the window.
func (v *timelineView) prune() {
	from := v.pos.Add(-timelineSpan)
	keep := v.episodes[:0]
	for _, e := range v.episodes {
		if !e.to.Before(from) {
			keep = append(keep, e)
		}
	}
	v.episodes = keep
}

// window is the time the chart covers.
func (v *timelineView) window() (from, to time.Time) {
	if v.replay {
		return v.first, v.last
	}
	return v.pos.Add(-timelineSpan), v.pos
}

// tlSeries is one chart line: its label, source, value and scale.
type tlSeries struct {
	label, source string
	value         func(*collectors.Point) (float64, bool)
	// ceil is the scale's top from the newest point (usable slots,
	// maxclients); 0 scales to the window's highest value.
	ceil  func(*collectors.Point) float64
	style lipgloss.Style
}

func idleInTransaction(p *collectors.Point) int {
	return p.PGByState["idle in transaction"] + p.PGByState["idle in transaction (aborted)"]
}

func (v *timelineView) series() []tlSeries {
	pg := func(f func(*collectors.Point) int) func(*collectors.Point) (float64, bool) {
		return func(p *collectors.Point) (float64, bool) { return float64(f(p)), p.PGOK }
	}
	usable := func(p *collectors.Point) float64 { return float64(p.PGUsable) }
	return []tlSeries{
		{"PG active", collectors.SourcePostgres, pg(func(p *collectors.Point) int { return p.PGByState["active"] }), usable, v.st.ok},
		{"PG idle", collectors.SourcePostgres, pg(func(p *collectors.Point) int { return p.PGByState["idle"] }), usable, v.st.warning},
		{"PG idle/tx", collectors.SourcePostgres, pg(idleInTransaction), usable, v.st.critical},
		{"PG lock wait", collectors.SourcePostgres, pg(func(p *collectors.Point) int { return p.PGWaiting }), usable, v.st.marked},
		{"Redis clients", collectors.SourceRedis, func(p *collectors.Point) (float64, bool) { return float64(p.RedisClients), p.RedisOK },
			func(p *collectors.Point) float64 { return float64(p.RedisMax) }, v.st.focused},
		{"pgb waiting", collectors.SourcePgBouncer, func(p *collectors.Point) (float64, bool) { return float64(p.PoolerWaiting), p.PoolerOK },
			nil, v.st.warning},
	}
}

// tlColumns is the window cut into equal stretches of time, one a column.
type tlColumns struct {
	from   time.Time
	step   time.Duration
	n      int
	fromNs int64
}

// of is the column of t, -1 outside the window; the window's right edge
// belongs to the last column.
func (c tlColumns) of(t time.Time) int {
	d := t.UnixNano() - c.fromNs
	if d < 0 {
		return -1
	}
	i := d / int64(c.step)
	if i >= int64(c.n) {
		if d <= int64(c.step)*int64(c.n) {
			return c.n - 1
		}
		return -1
	}
	return int(i)
}

func (c tlColumns) start(i int) time.Time { return c.from.Add(c.step * time.Duration(i)) }

func newColumns(from, to time.Time, n int) tlColumns {
	step := to.Sub(from) / time.Duration(max(n, 1))
	if step <= 0 {
		step = time.Second
	}
	return tlColumns{from: from, step: step, n: n, fromNs: from.UnixNano()}
}

// tlPoints are the held points of a window, read in place: a frame of
// the view copies none of the hour.
type tlPoints struct {
	h        *collectors.History
	from, to time.Time
}

func (p tlPoints) each(fn func(*collectors.Point)) {
	if p.h != nil {
		p.h.Range(p.from, p.to, fn)
	}
}

// points are the held points in [from, to].
func (v *timelineView) points(from, to time.Time) tlPoints {
	return tlPoints{h: v.hist, from: from, to: to}
}

// chartColumns is what the series draw, in one pass over the window:
// each column the highest value of its stretch (a one-sample spike
// stays), NaN where no sample of the series is (an outage, or before the
// history began): a gap, never zero. down marks, by source, the columns
// where the source failed at least once, so an outage shorter than a
// column still shows beside the peak.
func chartColumns(pts tlPoints, cols tlColumns, series []tlSeries) (values [][]float64, down [3][]bool) {
	values = make([][]float64, len(series))
	for i := range values {
		values[i] = make([]float64, cols.n)
		for c := range values[i] {
			values[i][c] = math.NaN()
		}
	}
	for i := range down {
		down[i] = make([]bool, cols.n)
	}
	pts.each(func(p *collectors.Point) {
		c := cols.of(p.At)
		if c < 0 {
			return
		}
		for i := range series {
			val, ok := series[i].value(p)
			switch {
			case !ok:
				// A source that is not watched is no outage.
				if failed(p, series[i].source) {
					down[sourceIndex(series[i].source)][c] = true
				}
			default:
				values[i][c] = spark.Peak(values[i][c], val)
			}
		}
	})
	return values, down
}

// failed: the point's sample of source failed (not merely absent).
func failed(p *collectors.Point, source string) bool {
	switch source {
	case collectors.SourcePostgres:
		return p.PGFailed
	case collectors.SourceRedis:
		return p.RedisFailed
	case collectors.SourcePgBouncer:
		return p.PoolerFailed
	}
	return false
}

// barRows draws values rows high, scaled from zero as spark.Line does
// (one row is spark.Line itself): a zero is the lowest bar, a NaN blank.
func barRows(values []float64, rows int, ceil float64) []string {
	if rows <= 1 {
		return []string{spark.Line(values, len(values), ceil)}
	}
	bars := spark.Bars()
	top := ceil
	for _, x := range values {
		if !math.IsNaN(x) {
			top = math.Max(top, x)
		}
	}
	levels := rows * len(bars)
	out := make([]strings.Builder, rows)
	for _, x := range values {
		filled := 0
		if !math.IsNaN(x) {
			e := 0
			if top > 0 {
				e = int(math.Round(math.Max(x, 0) / top * float64(levels-1)))
			}
			filled = max(0, min(e, levels-1)) + 1
		}
		for r := range out { // r counts from the top row
			k := filled - (rows-1-r)*len(bars)
			switch {
			case filled == 0 || k <= 0:
				out[r].WriteByte(' ')
			case k >= len(bars):
				out[r].WriteRune(bars[len(bars)-1])
			default:
				out[r].WriteRune(bars[k-1])
			}
		}
	}
	lines := make([]string, rows)
	for i := range out {
		lines[i] = out[i].String()
	}
	return lines
}

// at returns the newest point taken at or before t.
func (v *timelineView) at(t time.Time) (collectors.Point, bool) {
	if v.hist == nil {
		return collectors.Point{}, false
	}
	n := v.hist.Len()
	i := sort.Search(n, func(i int) bool { return v.hist.At(i).At.After(t) })
	if i == 0 {
		return collectors.Point{}, false
	}
	return v.hist.At(i - 1), true
}

// Glyphs of the bands, readable without colour.
const (
	glyphPending = '░'
	glyphFiring  = '█'
	glyphDown    = '×'
	glyphPos     = '▲'
)

const tlLabelW = 22 // "Redis clients 192/256" and a space

// View draws the timeline in exactly width×height cells.
func (v *timelineView) View() string {
	if v.drawnRev != v.rev || v.drawn == "" {
		v.drawn, v.drawnRev = v.draw(), v.rev
	}
	return v.drawn
}

func (v *timelineView) draw() string {
	w, h := v.width, v.height
	if w <= 0 || h <= 0 {
		return ""
	}
	cw := max(w-tlLabelW-1, 1)
	from, to := v.window()
	cols := newColumns(from, to, cw)
	pts := v.points(from, to)
	series := v.series()
	rows := seriesRows(h, len(series))
	lines := []string{v.titleLine(cols), v.legendLine()}
	now, hasNow := v.at(v.pos)
	values, down := chartColumns(pts, cols, series)
	for i, s := range series {
		lines = append(lines, v.seriesLines(s, values[i], rows, now, hasNow)...)
	}
	lines = append(lines, v.alertBand(cols), v.downBand(cols, down), v.actionBand(cols))
	axis, ticks := v.axis(cols)
	lines = append(lines, axis, ticks)
	lines = append(lines, v.notes(cols, h-len(lines))...)
	return fitBlock(lines, w, h).String()
}

func sourceIndex(name string) int {
	switch name {
	case collectors.SourceRedis:
		return 1
	case collectors.SourcePgBouncer:
		return 2
	}
	return 0
}

// seriesRows is each series' height: one row at 80×24, taller when the
// screen has room, leaving at least six lines of notes.
func seriesRows(h, n int) int {
	const fixed = 2 + 5 + 6 // title, legend; bands, axis, ticks; notes
	return max(1, min(4, (h-fixed)/max(n, 1)))
}

func (v *timelineView) titleLine(cols tlColumns) string {
	from, to := v.window()
	what := "last hour (live)"
	if v.replay {
		what = "recording at " + v.pos.UTC().Format("15:04:05") + " " + string(glyphPos)
	}
	return fmt.Sprintf("%s · %s · %s–%s UTC · 1 col = %s (max)",
		v.st.heading.Render("Timeline"), what, from.UTC().Format("15:04:05"), to.UTC().Format("15:04:05"),
		stepText(cols.step))
}

func stepText(d time.Duration) string {
	if d >= time.Second {
		return durOf(d.Round(time.Second))
	}
	return d.Round(time.Millisecond).String()
}

func (v *timelineView) legendLine() string {
	return v.st.dim.Render(fmt.Sprintf("bars 0..N of now/N · blank: no sample · p r b %c: down · %c pending %c firing",
		glyphDown, glyphPending, glyphFiring))
}

// seriesLines is a series' label, its reading at the position and its bars.
func (v *timelineView) seriesLines(s tlSeries, values []float64, rows int, now collectors.Point, hasNow bool) []string {
	if !v.configured[s.source] {
		return []string{fitLine(s.label, tlLabelW) + v.st.dim.Render("not configured")}
	}
	ceil := 0.0
	if s.ceil != nil && hasNow {
		ceil = s.ceil(&now)
	}
	top := ceil
	for _, x := range values {
		if !math.IsNaN(x) {
			top = math.Max(top, x)
		}
	}
	reading := "no data"
	if hasNow {
		if x, ok := s.value(&now); ok {
			reading = fmt.Sprintf("%g", x)
		} else {
			reading = "DOWN"
		}
	}
	scale := fmt.Sprintf("%g", top)
	labels := make([]string, rows)
	labels[0] = seriesLabel(s.label, reading+"/"+scale, reading)
	if rows > 1 {
		labels[0] = seriesLabel(s.label, reading, reading)
		labels[rows-1] = seriesLabel("", "of "+scale, scale)
	}
	out := make([]string, rows)
	for r, bar := range barRows(values, rows, ceil) {
		out[r] = fitLine(labels[r], tlLabelW) + s.style.Render(bar)
	}
	return out
}

// seriesLabel is a series' name and its reading right-aligned in the
// label column; short replaces long when both do not fit.
func seriesLabel(name, long, short string) string {
	room := tlLabelW - 1 - len(name)
	if len(long) > room {
		long = short
	}
	return name + fmt.Sprintf("%*s", max(room, 0), long)
}

// alertBand is, per column, the worst state any rule was in.
func (v *timelineView) alertBand(cols tlColumns) string {
	level := make([]int, cols.n)
	for _, e := range v.episodes {
		lv := 1
		if e.state == analysis.Firing {
			lv = 2
		}
		a, b := cols.of(e.from), cols.of(e.to)
		if a < 0 && !e.from.After(cols.from) {
			a = 0
		}
		if a < 0 || b < 0 && e.to.Before(cols.from) {
			continue
		}
		if b < 0 {
			b = cols.n - 1
		}
		for c := a; c <= b; c++ {
			level[c] = max(level[c], lv)
		}
	}
	var b strings.Builder
	for _, lv := range level {
		switch lv {
		case 2:
			b.WriteString(v.st.critical.Render(string(glyphFiring)))
		case 1:
			b.WriteString(v.st.warning.Render(string(glyphPending)))
		default:
			b.WriteByte(' ')
		}
	}
	firing, pending := 0, 0
	for _, e := range v.episodes {
		if !e.from.After(v.pos) && !e.to.Before(v.pos) {
			if e.state == analysis.Firing {
				firing++
			} else {
				pending++
			}
		}
	}
	label := "alerts"
	switch {
	case firing > 0:
		label = fmt.Sprintf("alerts %d firing", firing)
	case pending > 0:
		label = fmt.Sprintf("alerts %d pending", pending)
	}
	return fitLine(label, tlLabelW) + b.String()
}

// downBand marks where each source failed: p PostgreSQL, r Redis,
// b pgbouncer, × several.
func (v *timelineView) downBand(cols tlColumns, down [3][]bool) string {
	var b strings.Builder
	for c := 0; c < cols.n; c++ {
		var which []byte
		for i, letter := range []byte{'p', 'r', 'b'} {
			if down[i] != nil && down[i][c] {
				which = append(which, letter)
			}
		}
		switch len(which) {
		case 0:
			b.WriteByte(' ')
		case 1:
			b.WriteString(v.st.critical.Render(string(which)))
		default:
			b.WriteString(v.st.critical.Render(string(glyphDown)))
		}
	}
	return fitLine("down p/r/b", tlLabelW) + b.String()
}

// markedActions are the executed actions inside the window, oldest first.
func (v *timelineView) markedActions(cols tlColumns) []actions.AuditEntry {
	var out []actions.AuditEntry
	for _, e := range v.actions {
		if e.Phase == actions.PhaseResult && cols.of(e.Time) >= 0 {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// markerGlyph numbers the markers 1-9, then a-z; + after that.
func markerGlyph(i int) string {
	const glyphs = "123456789abcdefghijklmnopqrstuvwxyz"
	if i < len(glyphs) {
		return glyphs[i : i+1]
	}
	return "+"
}

func (v *timelineView) actionBand(cols tlColumns) string {
	row := []rune(strings.Repeat(" ", cols.n))
	marked := v.markedActions(cols)
	for i, e := range marked {
		row[cols.of(e.Time)] = rune(markerGlyph(i)[0])
	}
	return fitLine(fmt.Sprintf("actions %d", len(marked)), tlLabelW) + v.st.bold.Render(string(row))
}

// tickSteps are the axis' tick spacings, the first that leaves room for
// a label wins.
var tickSteps = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// axis is the time axis in UTC: ticks at round times, labelled below,
// and the replay position.
func (v *timelineView) axis(cols tlColumns) (string, string) {
	layout := "15:04"
	var tick time.Duration
	for _, d := range tickSteps {
		layout = "15:04"
		if d < time.Minute {
			layout = "15:04:05"
		}
		if float64(d)/float64(cols.step) >= float64(len(layout)+2) {
			tick = d
			break
		}
	}
	line := []rune(strings.Repeat("─", cols.n))
	labels := []rune(strings.Repeat(" ", cols.n+len(layout)))
	if tick > 0 {
		t := cols.from.UTC().Truncate(tick)
		if t.Before(cols.from) {
			t = t.Add(tick)
		}
		for ; ; t = t.Add(tick) {
			c := cols.of(t)
			if c < 0 {
				break
			}
			line[c] = '┬'
			if c+len(layout) <= cols.n { // a label cut at the edge would misread
				copy(labels[c:], []rune(t.Format(layout)))
			}
		}
	}
	if v.replay {
		if c := cols.of(v.pos); c >= 0 {
			line[c] = glyphPos
		}
	}
	return fitLine("", tlLabelW) + string(line), fitLine("UTC", tlLabelW) + strings.TrimRight(string(labels), " ")
}

// notes are the numbered actions and the alert episodes of the window,
// newest kept when they do not all fit.
func (v *timelineView) notes(cols tlColumns, room int) []string {
	if room <= 0 {
		return nil
	}
	var out []string
	marked := v.markedActions(cols)
	for i, e := range marked {
		out = append(out, fmt.Sprintf("%s %s %s", v.st.bold.Render(markerGlyph(i)), e.Time.UTC().Format("15:04:05"),
			formatAudit([]actions.AuditEntry{e})[0].text))
	}
	if len(marked) == 0 {
		switch {
		case v.replay:
			out = append(out, v.st.dim.Render("no action markers: a recording holds no audit log (slotwatch report --audit marks them)"))
		case v.audit == nil:
			out = append(out, v.st.dim.Render("no action markers: actions are unavailable here"))
		default:
			out = append(out, v.st.dim.Render("no action in this window"))
		}
	}
	for _, e := range v.episodes {
		if e.to.Before(cols.from) {
			continue
		}
		glyph := v.st.warning.Render(string(glyphPending))
		if e.state == analysis.Firing {
			glyph = v.st.critical.Render(string(glyphFiring))
		}
		out = append(out, fmt.Sprintf("%s %s %s–%s %s", glyph, e.state, e.from.UTC().Format("15:04:05"),
			e.to.UTC().Format("15:04:05"), e.rule))
	}
	if len(out) > room {
		out = append(out[:1], out[len(out)-room+1:]...)
	}
	return out
}

// Root wiring: the view's keys and its screen.

func (m *Model) onTimelineKey(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.timeline.keys.Close):
		m.mode = modeNormal
		return m.timeline.setOpen(false, m.now)
	case key.Matches(msg, m.keys.Quit):
		return tea.Quit
	case key.Matches(msg, m.keys.Help):
		m.mode = modeHelp
		m.helpScreen.open(modeTimeline)
		return nil
	case m.replay != nil && m.replay.claims(msg):
		return m.replay.Update(msg)
	}
	return nil
}

func (m *Model) timelineScreen(w, h int) string {
	return stack(fitBlock([]string{m.header.titleBar(w)}, w, 1), fitBlock(strings.Split(m.timeline.View(), "\n"), w, h-2),
		m.helpLine(w)).String()
}

func (m *Model) timelineHelp() []key.Binding {
	out := m.timeline.ShortHelp()
	if m.replay != nil {
		out = append(out, m.replay.ShortHelp()...)
		out = append(out, m.replay.FullHelp()[1]...)
	}
	return append(out, m.keys.Help, m.keys.Quit)
}
