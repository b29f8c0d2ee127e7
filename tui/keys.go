package tui

import "github.com/charmbracelet/bubbles/key"

func bind(keys []string, helpKey, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKey, desc))
}

// globalKeys apply whatever pane has focus.
type globalKeys struct {
	Quit, Help, Pause, Focus, FocusBack key.Binding
}

func newGlobalKeys() globalKeys {
	return globalKeys{
		Quit:      bind([]string{"q", "ctrl+c"}, "q/ctrl+c", "quit"),
		Help:      bind([]string{"?"}, "?", "help"),
		Pause:     bind([]string{"p"}, "p", "pause display"),
		Focus:     bind([]string{"tab"}, "tab", "next pane"),
		FocusBack: bind([]string{"shift+tab"}, "shift+tab", "previous pane"),
	}
}

func (k globalKeys) list() []key.Binding {
	return []key.Binding{k.Focus, k.FocusBack, k.Pause, k.Help, k.Quit}
}

// navKeys move a cursor in any list.
type navKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

func newNavKeys() navKeys {
	return navKeys{
		Up:       bind([]string{"up", "k"}, "↑/k", "up"),
		Down:     bind([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   bind([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown: bind([]string{"pgdown", "ctrl+d"}, "pgdn", "page down"),
		Top:      bind([]string{"home", "g"}, "home/g", "top"),
		Bottom:   bind([]string{"end"}, "end", "bottom"),
	}
}

func (k navKeys) list() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// sessionKeys act on the sessions table. Action keys follow pg_activity
// (Space marks, C cancels, K terminates).
type sessionKeys struct {
	Detail, Mark, Cancel, Terminate, TerminateGroup, ClearMarks key.Binding
	Filter, ClearFilter, Sort, Reverse                          key.Binding
	Active, Idle, IdleTx, Waiting, AllStates                    key.Binding
}

func newSessionKeys() sessionKeys {
	return sessionKeys{
		Detail:         bind([]string{"enter"}, "enter", "detail"),
		Mark:           bind([]string{" "}, "space", "mark"),
		Cancel:         bind([]string{"C"}, "C", "cancel query"),
		Terminate:      bind([]string{"K"}, "K", "terminate"),
		TerminateGroup: bind([]string{"G"}, "G", "terminate group idle>N"),
		ClearMarks:     bind([]string{"u"}, "u", "unmark all"),
		Filter:         bind([]string{"/"}, "/", "filter"),
		ClearFilter:    bind([]string{"esc"}, "esc", "clear filters"),
		Sort:           bind([]string{"s", ">"}, "s", "sort column"),
		Reverse:        bind([]string{"r"}, "r", "reverse sort"),
		Active:         bind([]string{"a"}, "a", "only active"),
		Idle:           bind([]string{"i"}, "i", "only idle"),
		IdleTx:         bind([]string{"t"}, "t", "only idle in txn"),
		Waiting:        bind([]string{"w"}, "w", "only lock waits"),
		AllStates:      bind([]string{"0"}, "0", "all states"),
	}
}

// groupKeys act on the PostgreSQL groups list.
type groupKeys struct {
	TerminateGroup, Filter, ByClient key.Binding
}

func newGroupKeys() groupKeys {
	return groupKeys{
		TerminateGroup: bind([]string{"G", "K"}, "G/K", "terminate group idle>N"),
		Filter:         bind([]string{"enter"}, "enter", "show its sessions"),
		ByClient:       bind([]string{"c"}, "c", "split by client address"),
	}
}

// findingKeys apply in the findings view (f opens it from the dashboard).
type findingKeys struct {
	Open, Back, Act key.Binding
}

func newFindingKeys() findingKeys {
	return findingKeys{
		Open: bind([]string{"f"}, "f", "findings"),
		Back: bind([]string{"esc", "f", "backspace"}, "esc", "back"),
		Act: bind([]string{"m", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, "m/1-9",
			"preview its suggested action"),
	}
}

// helpKeys page through the full help.
type helpKeys struct {
	Next, Prev, Close key.Binding
}

func newHelpKeys() helpKeys {
	return helpKeys{
		Next:  bind([]string{"right", "pgdown", "l", " ", "n"}, "→/pgdn", "next page"),
		Prev:  bind([]string{"left", "pgup", "h"}, "←/pgup", "previous page"),
		Close: bind([]string{"esc", "enter", "backspace"}, "?/esc", "close help"),
	}
}

// redisKeys act on the Redis pane.
type redisKeys struct {
	Clients, Kill key.Binding
}

func newRedisKeys() redisKeys {
	return redisKeys{
		Clients: bind([]string{"l"}, "l", "groups/clients"),
		Kill:    bind([]string{"X"}, "X", "kill group/client"),
	}
}

// confirmKeys answer the confirmation dialog.
type confirmKeys struct {
	Yes, No, Up, Down, Instead key.Binding
}

func newConfirmKeys() confirmKeys {
	return confirmKeys{
		Yes:     bind([]string{"y", "Y"}, "y", "run it"),
		No:      bind([]string{"n", "N", "esc", "q"}, "n/esc", "decline"),
		Up:      bind([]string{"up", "k"}, "↑", "scroll"),
		Down:    bind([]string{"down", "j"}, "↓", "scroll"),
		Instead: bind([]string{"K"}, "K", "terminate instead of cancel"),
	}
}

// filterKeys apply while typing a text filter.
type filterKeys struct {
	Apply, Clear key.Binding
}

func newFilterKeys() filterKeys {
	return filterKeys{
		Apply: bind([]string{"enter"}, "enter", "keep filter"),
		Clear: bind([]string{"esc"}, "esc", "clear filter"),
	}
}

// detailKeys apply in the session detail view.
type detailKeys struct {
	Back key.Binding
}

func newDetailKeys() detailKeys {
	return detailKeys{Back: bind([]string{"esc", "enter", "backspace"}, "esc", "back")}
}

// replayKeys control playback of a recording.
type replayKeys struct {
	Play, Faster, Slower, Back, Forward, Start, End key.Binding
}

func newReplayKeys() replayKeys {
	return replayKeys{
		Play:    bind([]string{" ", "p"}, "space/p", "play/pause"),
		Faster:  bind([]string{"+", "="}, "+", "faster"),
		Slower:  bind([]string{"-", "_"}, "-", "slower"),
		Back:    bind([]string{"left"}, "←", "-1 min"),
		Forward: bind([]string{"right"}, "→", "+1 min"),
		Start:   bind([]string{"home"}, "home", "start"),
		End:     bind([]string{"end"}, "end", "end"),
	}
}

func (k replayKeys) list() []key.Binding {
	return []key.Binding{k.Play, k.Faster, k.Slower, k.Back, k.Forward, k.Start, k.End}
}

// keys are every binding, built in one place so no two panes claim a key
// by accident; New hands each pane its own.
type keys struct {
	global   globalKeys
	nav      navKeys
	sessions sessionKeys
	groups   groupKeys
	redis    redisKeys
	confirm  confirmKeys
	filter   filterKeys
	detail   detailKeys
	replay   replayKeys
	findings findingKeys
	help     helpKeys
}

func newKeys() keys {
	return keys{newGlobalKeys(), newNavKeys(), newSessionKeys(), newGroupKeys(), newRedisKeys(),
		newConfirmKeys(), newFilterKeys(), newDetailKeys(), newReplayKeys(), newFindingKeys(), newHelpKeys()}
}

func isActionKey(k string) bool {
	return actionKeyName(k) != ""
}

// actionKeyName names what an action key would have done, for the
// refusal's audit line; "" for keys that change nothing.
func actionKeyName(k string) string {
	switch k {
	case "C":
		return "cancel"
	case "K":
		return "terminate"
	case "G":
		return "terminate group"
	case "X":
		return "redis-kill"
	case " ":
		return "mark"
	case "u":
		return "unmark"
	}
	return ""
}
