package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slotwatch/slotwatch/actions"
)

type terminateFlags struct {
	targets  targetFlags
	cancel   bool
	states   stateListFlag
	idleOver time.Duration
	app      string
	user     string
	client   string
	pids     intListFlag
	limit    int
	yes      bool
	asJSON   bool
	showSQL  bool
	timeout  time.Duration
}

func (f *terminateFlags) register(fs *flag.FlagSet) {
	f.targets.register(fs)
	f.targets.registerActions(fs)
	f.targets.registerServer(fs)
	fs.BoolVar(&f.cancel, "cancel", false, "cancel the running query (pg_cancel_backend) instead of terminating the session")
	fs.Var(&f.states, "state", "session state: "+strings.Join(stateNames(), ", ")+" (repeat or comma-separate)")
	durationVar(fs, &f.idleOver, "idle-over", 0, 0, maxDuration, "only sessions longer than this in their current state, e.g. 10m or 10min")
	fs.StringVar(&f.app, "app", "", "application_name, exact or glob (web-*)")
	fs.StringVar(&f.user, "user", "", "role name, exact or glob")
	fs.StringVar(&f.client, "client", "", "client address, exact or glob (10.0.3.*; 'local' for a Unix socket)")
	f.pids = intListFlag{lo: 1, hi: maxPID}
	fs.Var(&f.pids, "pid", "backend pid (repeat or comma-separate)")
	intVar(fs, &f.limit, "limit", 0, 1, maxCount, "at most this many sessions, those longest in their state first (default: no limit)")
	fs.BoolVar(&f.yes, "yes", false, "execute; without it the command only previews and changes nothing")
	fs.BoolVar(&f.asJSON, "json", false, "print the plan (and results) as JSON")
	fs.BoolVar(&f.showSQL, "show-sql", false, "also print the statement the action runs (always in --json)")
	durationVar(fs, &f.timeout, "terminate-timeout", actions.DefaultTerminateTimeout, 0, 10*time.Minute, "how long pg_terminate_backend waits for each backend to exit (PostgreSQL 14+)")
}

// hasPredicate reports whether the command line narrows the sessions; the
// db from the config file alone does not count.
func (f *terminateFlags) hasPredicate() bool {
	return len(f.states) > 0 || f.idleOver > 0 || f.app != "" || f.user != "" || f.client != "" ||
		len(f.pids.vals) > 0 || f.targets.db != ""
}

func (f *terminateFlags) request(db string) actions.SessionRequest {
	kind := actions.Terminate
	if f.cancel {
		kind = actions.Cancel
	}
	// intListFlag has checked every pid against the int4 range.
	pids := make([]int32, len(f.pids.vals))
	for i, p := range f.pids.vals {
		pids[i] = int32(p)
	}
	return actions.SessionRequest{Kind: kind, Filter: actions.SessionFilter{
		PIDs: pids, States: f.states, IdleOver: f.idleOver, App: f.app, User: f.user, DB: db, Client: f.client, Limit: f.limit,
	}}
}

func runTerminate(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "terminate")
	var f terminateFlags
	f.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: terminate takes flags only, got %q; use --pid N for pids.\n", fs.Arg(0))
		return exitUsage
	}
	if !f.hasPredicate() {
		fmt.Fprintln(env.stderr, "slotwatch: terminate needs at least one filter (--state, --idle-over, --app, --user, --db, --client) or --pid; it never means every session.")
		return exitUsage
	}
	s, err := f.targets.resolve(env)
	if err != nil {
		return exitFor(env, usageError{err})
	}
	t, err := pickTargets(s, f.targets.server, true, false, false)
	if err != nil {
		return exitFor(env, err)
	}
	deps, err := openActions(ctx, env, s, t, true, false, false)
	if err != nil {
		return exitFor(env, err)
	}
	defer deps.close()
	deps.setTerminateTimeout(f.timeout)
	return runPlan(ctx, env, deps.svc, f.request(s.DB), outputFlags{yes: f.yes, asJSON: f.asJSON, showSQL: f.showSQL})
}

// sayMissingPIDs names each requested pid that is not a client session the
// plan could find, and reports whether there was one: a pid asked for by
// number that cannot be acted on is an error, never "nothing to do".
func sayMissingPIDs(env *environment, plan actions.SessionPlan) bool {
	found, server := map[int32]bool{}, map[int32]string{}
	for _, b := range plan.Targets {
		found[b.PID] = true
	}
	for _, x := range plan.Excluded {
		if t := x.Backend.BackendType; t != "" && t != "client backend" {
			server[x.Backend.PID] = t
			continue
		}
		found[x.Backend.PID] = true
	}
	missing := false
	for _, pid := range plan.Request.Filter.PIDs {
		switch {
		case server[pid] != "":
			fmt.Fprintf(env.stderr, "slotwatch: pid %d is not a client session on %s but a server process (%s); nothing was sent to it.\n", pid, plan.Server, server[pid])
			missing = true
		case !found[pid]:
			fmt.Fprintf(env.stderr, "slotwatch: pid %d is not a client session on %s (gone already, or outside the other filters); nothing was sent to it.\n", pid, plan.Server)
			missing = true
		}
	}
	return missing
}

// previewSessions prints a plan that is not executed: a preview, or a plan
// with nothing to do (exit 3 when the policy protected every match).
func previewSessions(env *environment, plan actions.SessionPlan, yes, asJSON, showSQL bool) int {
	if asJSON {
		_ = writeJSON(env.stdout, actionOutput[actions.Plan]{Plan: plan, Results: []actions.TargetResult{}})
	} else {
		printSessionPlan(env.text(), plan, showSQL)
	}
	switch {
	case len(plan.Targets) == 0 && onlyIdleForCancel(plan.Excluded):
		fmt.Fprintln(env.stderr, "slotwatch: the matching sessions are idle, where cancel has no effect; run without --cancel to terminate them.")
	case len(plan.Targets) == 0 && sayMissingPIDs(env, plan):
		return exitError
	case len(plan.Targets) == 0 && len(plan.Excluded) > 0:
		fmt.Fprintln(env.stderr, "slotwatch: every matching session is protected by the safety policy; nothing to do.")
		return exitRefused
	case len(plan.Targets) == 0:
		fmt.Fprintln(env.stderr, "slotwatch: no session matches; nothing to do.")
	case !yes && !asJSON:
		fmt.Fprintf(env.text(), "Preview only: nothing was changed. Run again with --yes to %s these %d session(s).\n", plan.Request.Kind, len(plan.Targets))
	}
	return exitOK
}

func onlyIdleForCancel(excluded []actions.Exclusion) bool {
	for _, x := range excluded {
		if x.Reason != actions.ReasonCancelIdle {
			return false
		}
	}
	return len(excluded) > 0
}

// sessionStates are pg_stat_activity's states, by the names people type:
// idle-in-transaction (or idle_in_transaction) is awkward to quote in a
// shell as "idle in transaction".
var sessionStates = []struct{ name, state string }{
	{"active", "active"},
	{"idle", "idle"},
	{"idle-in-transaction", "idle in transaction"},
	{"idle-in-transaction-aborted", "idle in transaction (aborted)"},
	{"fastpath-function-call", "fastpath function call"},
	{"disabled", "disabled"},
}

func stateNames() []string {
	out := make([]string, len(sessionStates))
	for i, s := range sessionStates {
		out[i] = s.name
	}
	return out
}

// stateListFlag collects --state values as pg_stat_activity states; a state
// that does not exist is a usage error, not a filter that matches nothing.
type stateListFlag []string

func (l *stateListFlag) String() string { return strings.Join(*l, ",") }

func (l *stateListFlag) Set(v string) error {
	var parts listFlag
	_ = parts.Set(v)
	for _, p := range parts {
		state, ok := sessionState(p)
		if !ok {
			return badValue{value: p, problem: "is not a session state: use " + strings.Join(stateNames(), ", ")}
		}
		*l = append(*l, state)
	}
	return nil
}

func sessionState(s string) (string, bool) {
	key := strings.NewReplacer("_", "-", " ", "-", "(", "", ")", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	for _, st := range sessionStates {
		if key == st.name {
			return st.state, true
		}
	}
	return "", false
}

func printSessionPlan(w io.Writer, plan actions.SessionPlan, showSQL bool) {
	fmt.Fprintf(w, "%s on %s where %s: %d session(s)\n", plan.Request.Kind, serverTitle(plan.ServerName, plan.Server), plan.Request.Filter, len(plan.Targets))
	if len(plan.Targets) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  PID\tUSER\tDATABASE\tAPPLICATION\tCLIENT\tSTATE\tIN STATE")
		for _, b := range plan.Targets {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", b.PID, cell(b.Usename), cell(b.Datname), cell(b.ApplicationName), cell(b.ClientAddr), cell(b.State), seconds(b.StateSeconds))
		}
		_ = tw.Flush()
	}
	if len(plan.Excluded) > 0 {
		fmt.Fprintf(w, "excluded by the safety policy (%d):\n", len(plan.Excluded))
		for _, x := range plan.Excluded {
			fmt.Fprintf(w, "  pid %d (%s, %s): %s\n", x.Backend.PID, cell(x.Backend.Usename), cell(x.Backend.ApplicationName), x.Reason)
		}
	}
	printNotes(w, plan.Notes)
	if showSQL {
		fmt.Fprintf(w, "statement, per session:\n  %s\n", indent(plan.Statement))
	}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
