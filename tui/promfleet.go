package tui

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/spark"
	"github.com/slotwatch/slotwatch/internal/termtext"
)

// promFleetKeys drive the fleet view.
type promFleetKeys struct {
	nav                        navKeys
	Filter, Sort, Group, Close key.Binding
	// Typing keys of the filter prompt.
	Accept, Cancel key.Binding
}

func newPromFleetKeys() promFleetKeys {
	return promFleetKeys{
		nav:    newNavKeys(),
		Filter: bind([]string{"/"}, "/", "filter"),
		Sort:   bind([]string{"s"}, "s", "sort: headroom/name/used/alerts"),
		Group:  bind([]string{"b"}, "b", "group by the next label"),
		Close:  bind([]string{"esc", "F"}, "esc/F", "back"),
		Accept: bind([]string{"enter"}, "enter", "keep filter"),
		Cancel: bind([]string{"esc"}, "esc", "clear filter"),
	}
}

// fleetSort is the order of the instances within their state.
type fleetSort int

const (
	sortHeadroom fleetSort = iota // least headroom first (the collector's order)
	sortName
	sortUsed
	sortAlerts
	numFleetSorts
)

var fleetSortNames = [numFleetSorts]string{"headroom", "name", "used", "alerts"}

// fleetLine is one line of the list: a group heading or an instance.
type fleetLine struct {
	heading string
	inst    *collectors.FleetInstance
}

// promFleetView is the whole fleet as Prometheus sees it: hundreds of
// instances, filtered, sorted, grouped by a label, DOWN and stale ones
// first, a sparkline each. It is a component (component.go).
type promFleetView struct {
	keys promFleetKeys
	st   styles
	// stats and src are the fleet source's latest data and state.
	stats *collectors.PromFleetStats
	src   collectors.Source
	now   time.Time
	// firstAt is the first frame's time: how long a never-answering
	// Prometheus has been DOWN.
	firstAt time.Time

	filter    string
	filtering bool
	sort      fleetSort
	group     int // index into stats.GroupBy; -1 none

	// canAttach: an Attacher is wired (a / d); attached are the live
	// servers the snapshot lists, by name; note is the last attach or
	// detach outcome, shown until the next key.
	canAttach bool
	attach    attachKeys
	attached  map[string]bool
	note      string

	lines  []fleetLine
	cursor string // the selected instance, by key: rows re-sort every refresh
	top    int
	width  int
	height int
}

func newPromFleetView(st styles) *promFleetView {
	return &promFleetView{keys: newPromFleetKeys(), attach: newAttachKeys(), st: st, group: -1}
}

// configured is true when the snapshot carries the fleet source at all.
func (v *promFleetView) configured() bool { return v.src.Configured() }

func (v *promFleetView) SetSize(w, h int) { v.width, v.height = w, h; v.scroll() }

func (v *promFleetView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case frameMsg:
		v.setFrame(msg.frame)
	case tickMsg:
		v.now = time.Time(msg)
	case tea.KeyMsg:
		return v.onKey(msg)
	}
	return nil
}

func (v *promFleetView) setFrame(f analysis.Frame) {
	s := f.Snapshot
	v.src = s.Source(collectors.SourcePromFleet)
	v.stats = s.PromFleet
	v.attached = map[string]bool{}
	for _, sv := range s.Servers {
		if strings.HasPrefix(sv.Name, collectors.LivePrefix) {
			v.attached[sv.Name] = true
		}
	}
	if s.TakenAt.After(v.now) {
		v.now = s.TakenAt
	}
	if v.firstAt.IsZero() || s.TakenAt.Before(v.firstAt) {
		v.firstAt = s.TakenAt
	}
	v.rebuild()
}

func (v *promFleetView) onKey(msg tea.KeyMsg) tea.Cmd {
	k := v.keys
	if v.filtering {
		switch {
		case key.Matches(msg, k.Accept):
			v.filtering = false
		case key.Matches(msg, k.Cancel):
			v.filtering, v.filter = false, ""
		case msg.Type == tea.KeyBackspace:
			if r := []rune(v.filter); len(r) > 0 {
				v.filter = string(r[:len(r)-1])
			}
		case msg.Type == tea.KeyRunes || msg.Type == tea.KeySpace:
			v.filter += string(msg.Runes)
		}
		v.rebuild()
		return nil
	}
	switch {
	case key.Matches(msg, k.Filter):
		v.filtering = true
	case key.Matches(msg, k.Sort):
		v.sort = (v.sort + 1) % numFleetSorts
		v.rebuild()
	case key.Matches(msg, k.Group):
		v.nextGroup()
		v.rebuild()
	case key.Matches(msg, k.nav.Up):
		v.move(-1)
	case key.Matches(msg, k.nav.Down):
		v.move(1)
	case key.Matches(msg, k.nav.PageUp):
		v.move(-max(v.listHeight()-1, 1))
	case key.Matches(msg, k.nav.PageDown):
		v.move(max(v.listHeight()-1, 1))
	case key.Matches(msg, k.nav.Top):
		v.move(-len(v.lines))
	case key.Matches(msg, k.nav.Bottom):
		v.move(len(v.lines))
	}
	return nil
}

func (v *promFleetView) nextGroup() {
	if v.stats == nil || len(v.stats.GroupBy) == 0 {
		v.group = -1
		return
	}
	v.group++
	if v.group >= len(v.stats.GroupBy) {
		v.group = -1
	}
}

func (v *promFleetView) groupLabel() string {
	if v.stats == nil || v.group < 0 || v.group >= len(v.stats.GroupBy) {
		return ""
	}
	return v.stats.GroupBy[v.group]
}

// rebuild makes the list: filtered, DOWN/stale/gone first, sorted, grouped.
func (v *promFleetView) rebuild() {
	v.lines = v.lines[:0]
	if v.stats == nil {
		return
	}
	rows := make([]*collectors.FleetInstance, 0, len(v.stats.Instances))
	needle := strings.ToLower(v.filter)
	for i := range v.stats.Instances {
		in := &v.stats.Instances[i]
		if needle == "" || matchesFleet(in, needle) {
			rows = append(rows, in)
		}
	}
	v.sortRows(rows)
	label := v.groupLabel()
	if label == "" {
		for _, in := range rows {
			v.lines = append(v.lines, fleetLine{inst: in})
		}
	} else {
		v.groupRows(rows, label)
	}
	v.scroll()
}

// matchesFleet is true when any label value, the kind or the state
// contains needle (lower case).
func matchesFleet(in *collectors.FleetInstance, needle string) bool {
	if strings.Contains(in.Kind, needle) || strings.Contains(in.State, needle) {
		return true
	}
	for k, val := range in.Labels {
		if strings.Contains(strings.ToLower(val), needle) || strings.Contains(strings.ToLower(k+"="+val), needle) {
			return true
		}
	}
	return false
}

var fleetStateRank = map[string]int{collectors.FleetDown: 0, collectors.FleetStale: 1, collectors.FleetGone: 2, collectors.FleetUp: 3}

func (v *promFleetView) sortRows(rows []*collectors.FleetInstance) {
	slices.SortStableFunc(rows, func(a, b *collectors.FleetInstance) int {
		if c := cmp.Compare(fleetStateRank[a.State], fleetStateRank[b.State]); c != 0 {
			return c
		}
		switch v.sort {
		case sortName:
			return cmp.Compare(fleetName(a), fleetName(b))
		case sortUsed:
			return cmp.Compare(usedOr(b), usedOr(a))
		case sortAlerts:
			if c := cmp.Compare(b.AlertCount, a.AlertCount); c != 0 {
				return c
			}
		}
		return compareHeadroom(a, b)
	})
}

// compareHeadroom puts the least headroom (highest use ratio) first and
// instances whose ratio is unknown after the others.
func compareHeadroom(a, b *collectors.FleetInstance) int {
	ra, oka := a.Ratio()
	rb, okb := b.Ratio()
	switch {
	case oka && okb:
		return cmp.Compare(rb, ra)
	case oka:
		return -1
	case okb:
		return 1
	}
	return 0
}

func usedOr(in *collectors.FleetInstance) float64 {
	if in.Used.Known {
		return in.Used.V
	}
	return math.Inf(-1)
}

// groupRows lists one heading per value of label, the group with the
// worst instance first (rows are already worst first), its instances
// under it.
func (v *promFleetView) groupRows(rows []*collectors.FleetInstance, label string) {
	var order []string
	members := map[string][]*collectors.FleetInstance{}
	for _, in := range rows {
		g := in.Labels[label]
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], in)
	}
	for _, g := range order {
		ms := members[g]
		v.lines = append(v.lines, fleetLine{heading: groupHeading(label, g, ms)})
		for _, in := range ms {
			v.lines = append(v.lines, fleetLine{inst: in})
		}
	}
}

func groupHeading(label, value string, ms []*collectors.FleetInstance) string {
	if value == "" {
		value = "(none)"
	}
	counts := map[string]int{}
	worst, worstOK := 0.0, false
	for _, in := range ms {
		counts[in.State]++
		if r, ok := in.Ratio(); ok && in.State == collectors.FleetUp && (!worstOK || r > worst) {
			worst, worstOK = r, true
		}
	}
	parts := []string{fmt.Sprintf("%s=%s", label, termtext.Clean(value)), plural(len(ms), "instance")}
	for _, s := range []string{collectors.FleetDown, collectors.FleetStale, collectors.FleetGone} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], strings.ToUpper(s)))
		}
	}
	if worstOK {
		parts = append(parts, "fullest "+analysis.PercentOf(worst, 1))
	}
	return strings.Join(parts, " · ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// selected is the instance under the cursor, nil when none.
func (v *promFleetView) selected() *collectors.FleetInstance {
	if i := v.cursorIndex(); i >= 0 {
		return v.lines[i].inst
	}
	return nil
}

// cursorIndex is the cursor's line; the first instance when the cursor's
// instance is gone from the list.
func (v *promFleetView) cursorIndex() int {
	first := -1
	for i, l := range v.lines {
		if l.inst == nil {
			continue
		}
		if l.inst.Key == v.cursor {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

func (v *promFleetView) move(d int) {
	i := v.cursorIndex()
	if i < 0 {
		return
	}
	step := 1
	if d < 0 {
		step = -1
	}
	for n := abs(d); n > 0; n-- {
		j := i + step
		for j >= 0 && j < len(v.lines) && v.lines[j].inst == nil {
			j += step
		}
		if j < 0 || j >= len(v.lines) {
			break
		}
		i = j
	}
	v.cursor = v.lines[i].inst.Key
	v.scroll()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// listHeight is the rows the list gets below the view's header lines.
func (v *promFleetView) listHeight() int { return max(v.height-promFleetHeaderLines, 1) }

// promFleetHeaderLines are the view's lines besides the list: title,
// state line, filter/sort line, column heading, and the selected
// instance's line at the bottom.
const promFleetHeaderLines = 5

func (v *promFleetView) scroll() {
	i := v.cursorIndex()
	h := v.listHeight()
	if i < 0 {
		v.top = 0
		return
	}
	if i < v.top {
		v.top = i
	}
	if i >= v.top+h {
		v.top = i - h + 1
	}
	// Keep a group's heading in sight with its first instance.
	if v.top > 0 && v.top == i && v.lines[i-1].inst == nil {
		v.top--
	}
	v.top = max(0, min(v.top, len(v.lines)-h))
}

func (v *promFleetView) ShortHelp() []key.Binding {
	if v.filtering {
		return []key.Binding{v.keys.Accept, v.keys.Cancel}
	}
	if v.canAttach {
		return []key.Binding{v.attach.Attach, v.attach.Detach, v.keys.Filter, v.keys.Sort, v.keys.Group, v.keys.Close}
	}
	return []key.Binding{v.keys.Filter, v.keys.Sort, v.keys.Group, v.keys.Close}
}

func (v *promFleetView) FullHelp() [][]key.Binding {
	n := v.keys.nav
	return [][]key.Binding{{n.Up, n.Down, n.PageUp, n.PageDown, n.Top, n.Bottom}, v.ShortHelp()}
}

// Column widths of an instance line.
const (
	fleetStateW = 5
	fleetKindW  = 5
	fleetNumW   = 12
	fleetPctW   = 4
	fleetAgeW   = 6
)

func (v *promFleetView) View() string {
	if v.width <= 0 || v.height <= 0 {
		return ""
	}
	lines := []string{v.st.heading.Render(fitLine(v.title(), v.width)), v.stateLine(), v.controlsLine()}
	if v.stats == nil {
		return fitBlock(lines, v.width, v.height).String()
	}
	nameW, sparkW := v.columns()
	lines = append(lines, v.st.dim.Render(fitLine(v.heading(nameW, sparkW), v.width)))
	h := v.listHeight()
	sel := v.cursorIndex()
	for i := v.top; i < len(v.lines) && i < v.top+h; i++ {
		l := v.lines[i]
		if l.inst == nil {
			lines = append(lines, v.st.bold.Render(fitLine(" "+l.heading, v.width)))
			continue
		}
		text := fitLine(v.row(l.inst, nameW, sparkW), v.width)
		switch {
		case i == sel:
			text = v.st.selected.Render(text)
		case l.inst.State == collectors.FleetDown:
			text = v.st.critical.Render(text)
		case l.inst.State != collectors.FleetUp:
			text = v.st.warning.Render(text)
		}
		lines = append(lines, text)
	}
	if len(v.lines) == 0 {
		lines = append(lines, "  No instance matches the filter.")
	}
	out := fitBlock(lines, v.width, v.height-1)
	return append(out, fitLine(v.selectedLine(), v.width)).String()
}

// selectedLine names the selected instance with its labels and how to
// watch it live (fleet.live), or why that cannot be said.
func (v *promFleetView) selectedLine() string {
	if v.note != "" {
		return termtext.Clean(" " + v.note)
	}
	in := v.selected()
	if in == nil {
		return ""
	}
	keys := slices.Sorted(maps.Keys(in.Labels))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if k != "instance" && k != "job" {
			parts = append(parts, k+"="+in.Labels[k])
		}
	}
	live := ""
	switch {
	case v.attached[liveNameOf(in)] && liveNameOf(in) != "":
		live = "attached live as " + liveNameOf(in) + " (a shows it, d detaches)"
	case v.canAttach && in.LiveError == "" && in.Live != "":
		live = "a attaches live: " + in.Live
	case in.LiveError != "":
		live = "live: " + in.LiveError
	case in.Live != "" && in.Kind == collectors.FleetRedis:
		live = "live: slotwatch watch --redis '" + in.Live + "'"
	case in.Live != "":
		live = "live: slotwatch watch --pg '" + in.Live + "'"
	case in.Kind == collectors.FleetPostgres || in.Kind == collectors.FleetRedis:
		live = "live: set fleet.live." + map[string]string{collectors.FleetPostgres: "postgres", collectors.FleetRedis: "redis"}[in.Kind] + " to watch it live"
	}
	return termtext.Clean(fmt.Sprintf(" ▸ %s %s · %s", fleetName(in), strings.Join(parts, " "), live))
}

func (v *promFleetView) title() string {
	host := "Prometheus"
	if v.stats != nil && v.stats.Prometheus != "" {
		host = "Prometheus " + termtext.Clean(v.stats.Prometheus)
	}
	t := " Fleet from " + host
	if v.stats != nil {
		c := v.stats.Count()
		t += fmt.Sprintf(" · %s", plural(len(v.stats.Instances), "instance"))
		for _, s := range []string{collectors.FleetDown, collectors.FleetStale, collectors.FleetGone} {
			if c[s] > 0 {
				t += fmt.Sprintf(" · %d %s", c[s], strings.ToUpper(s))
			}
		}
	}
	return t
}

// stateLine says whether the numbers may be believed: the fleet source's
// one state rule, and how old Prometheus's answer is.
func (v *promFleetView) stateLine() string {
	state, age := v.src.StateAt(v.now)
	switch state {
	case collectors.SourceOff:
		return fitLine(" The fleet source is not configured: give fleet.prometheus (or --fleet-prometheus URL).", v.width)
	case collectors.SourceDown:
		return v.st.critical.Render(fitLine(fmt.Sprintf(" DOWN · BLIND for %s: Prometheus never answered: %s", analysis.FormatDuration(v.now.Sub(v.firstAt)), termtext.Clean(v.src.Err)), v.width))
	case collectors.SourceStale:
		why := "no answer for " + analysis.FormatDuration(age)
		if v.src.Err != "" {
			why = termtext.Clean(v.src.Err)
		}
		return v.st.warning.Render(fitLine(fmt.Sprintf(" STALE · BLIND: numbers below are Prometheus's of %s ago; %s", analysis.FormatDuration(age), why), v.width))
	}
	return v.st.ok.Render(fitLine(fmt.Sprintf(" OK · numbers from Prometheus, answered %s ago, sparklines %s every %s, %d queries per refresh",
		analysis.FormatDuration(age), analysis.FormatDuration(time.Duration(v.stats.WindowSeconds*float64(time.Second))),
		analysis.FormatDuration(time.Duration(v.stats.StepSeconds*float64(time.Second))), v.stats.Queries), v.width))
}

func (v *promFleetView) controlsLine() string {
	f := "none"
	if v.filter != "" || v.filtering {
		f = "/" + termtext.Clean(v.filter)
		if v.filtering {
			f += "▏"
		}
	}
	g := v.groupLabel()
	if g == "" {
		g = "none"
	}
	shown := 0
	for _, l := range v.lines {
		if l.inst != nil {
			shown++
		}
	}
	total := 0
	if v.stats != nil {
		total = len(v.stats.Instances)
	}
	return fitLine(fmt.Sprintf(" filter %s · sort %s · group by %s · showing %d of %d", f, fleetSortNames[v.sort], g, shown, total), v.width)
}

// columns gives the name and sparkline their share of the width.
func (v *promFleetView) columns() (nameW, sparkW int) {
	fixed := 1 + fleetStateW + 1 + fleetKindW + 1 + 1 + fleetNumW + 1 + fleetPctW + 1 + 1 + fleetAgeW + 1 + 14
	rest := max(v.width-fixed, 20)
	sparkW = min(max(rest/3, 8), 61)
	return rest - sparkW, sparkW
}

func (v *promFleetView) heading(nameW, sparkW int) string {
	trend := "TREND"
	return fmt.Sprintf(" %-*s %-*s %-*s %*s %*s %-*s %*s ALERTS", fleetStateW, "STATE", fleetKindW, "KIND",
		nameW, "INSTANCE", fleetNumW, "USED/USABLE", fleetPctW, "%", sparkW, ansi.Truncate(trend, sparkW, ""), fleetAgeW, "AGE")
}

var fleetKindShort = map[string]string{collectors.FleetPostgres: "pg", collectors.FleetRedis: "redis",
	collectors.FleetPgBouncer: "pgb", collectors.FleetUnknown: "?"}

func (v *promFleetView) row(in *collectors.FleetInstance, nameW, sparkW int) string {
	state := strings.ToUpper(in.State)
	if in.State == collectors.FleetUp {
		state = "up"
	}
	name := ansi.Truncate(termtext.Clean(fleetName(in)), nameW, "…")
	nums, pct := fleetNumbers(in)
	trend := strings.Repeat(" ", sparkW)
	if len(in.Spark) > 0 {
		ceil := 0.0
		if u := in.Usable(); u.Known {
			ceil = u.V
		}
		trend = fitLine(spark.Line(spark.BucketMax(in.Spark, sparkW), sparkW, ceil), sparkW)
	}
	age := "—"
	if !in.SampleAt.IsZero() {
		age = analysis.FormatDuration(v.now.Sub(in.SampleAt))
	}
	alerts := ""
	if in.AlertCount > 0 {
		alerts = fmt.Sprintf("%d %s", in.AlertCount, strings.Join(in.Alerts, ","))
	}
	if in.State != collectors.FleetUp && in.Why != "" {
		alerts = strings.TrimSpace(alerts + " " + in.Why)
	}
	return fmt.Sprintf(" %-*s %-*s %-*s %*s %*s %s %*s %s", fleetStateW, state, fleetKindW, fleetKindShort[in.Kind],
		nameW, name, fleetNumW, nums, fleetPctW, pct, trend, fleetAgeW, age, termtext.Clean(alerts))
}

// fleetName is how a line names its instance: the instance label, and the
// server label of slotwatch's own /metrics when it has one.
func fleetName(in *collectors.FleetInstance) string {
	name := in.Labels["instance"]
	if s := in.Labels["server"]; s != "" {
		name += "/" + s
	}
	if name == "" {
		name = in.Key
	}
	return name
}

// fleetNumbers are the used/usable cell and the percent cell; a number
// Prometheus did not give is a dash, never 0.
func fleetNumbers(in *collectors.FleetInstance) (string, string) {
	if in.Kind == collectors.FleetPgBouncer {
		if !in.Waiting.Known {
			return "—", ""
		}
		s := fmt.Sprintf("%g wait", in.Waiting.V)
		if in.MaxWaitSeconds.Known && in.MaxWaitSeconds.V > 0 {
			s += fmt.Sprintf(" %s", analysis.FormatDuration(time.Duration(in.MaxWaitSeconds.V*float64(time.Second))))
		}
		return s, ""
	}
	used, usable := "—", "—"
	if in.Used.Known {
		used = fmt.Sprintf("%g", in.Used.V)
	}
	if u := in.Usable(); u.Known {
		usable = fmt.Sprintf("%g", u.V)
	}
	pct := ""
	if r, ok := in.Ratio(); ok {
		pct = analysis.PercentOf(r, 1)
	}
	return used + "/" + usable, pct
}
