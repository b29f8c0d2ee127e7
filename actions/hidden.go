package actions

import (
	"fmt"
	"strings"

	"github.com/slotwatch/slotwatch/collectors"
)

// HiddenRowsError is a session action whose predicate reads columns
// (state, idle time, application, client) that PostgreSQL hides from the
// acting role on other roles' rows: whether those rows match cannot be
// decided, so the action answers neither "no session matches" nor acts.
type HiddenRowsError struct {
	Hidden, Total int
	Role          string
	Columns       []string
}

func (e *HiddenRowsError) Error() string {
	return fmt.Sprintf("cannot decide %s on every session: %s", strings.Join(e.Columns, ", "),
		collectors.HiddenSentence(e.Hidden, e.Total, e.Role))
}

// hiddenColumns lists the filter's predicates that a hidden row cannot
// answer; pid, user and database stay visible on every row.
func hiddenColumns(f SessionFilter) []string {
	var cols []string
	if len(f.States) > 0 {
		cols = append(cols, "--state")
	}
	if f.IdleOver > 0 {
		cols = append(cols, "--idle-over")
	}
	if f.App != "" {
		cols = append(cols, "--app")
	}
	if f.Client != "" {
		cols = append(cols, "--client")
	}
	return cols
}

// checkDecidable refuses a filter that reads hidden columns when some rows
// that pass its visible predicates (pid, user, database) are hidden.
func checkDecidable(f SessionFilter, backends []Backend, role string) error {
	cols := hiddenColumns(f)
	if len(cols) == 0 {
		return nil
	}
	visible := f
	visible.States, visible.IdleOver, visible.App, visible.Client = nil, 0, "", ""
	m, err := compileSessionFilter(visible)
	if err != nil {
		return err
	}
	hidden := 0
	for _, b := range backends {
		if b.Hidden && m.matches(b) {
			hidden++
		}
	}
	if hidden == 0 {
		return nil
	}
	return &HiddenRowsError{Hidden: hidden, Total: len(backends), Role: role, Columns: cols}
}
