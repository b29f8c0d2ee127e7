package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/slotwatch/slotwatch/internal/termtext"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/internal/durations"
)

const guardUsage = `Usage:
  slotwatch guard show [--role R] [--server NAME] [--json]
  slotwatch guard set NAME VALUE [--role R] [--server NAME] [--yes] [--show-sql] [--json]
  slotwatch guard revert NAME [--role R] [--server NAME] [--yes] [--show-sql] [--json]

Guards are server-side timeouts that stop the bleeding without a deploy:
  idle_session_timeout                 per role, PostgreSQL 14+ (VALUE like 5min, 5m, 300s, 0 = off)
  idle_in_transaction_session_timeout  per role (VALUE like 30s)
  redis-timeout                        Redis CONFIG SET timeout (VALUE like 300s or 5m; 0 = off)
VALUE takes Go and PostgreSQL units alike (500ms, 90s, 5m, 5min, 1h, 1d); a
number without a unit is refused (PostgreSQL would read it as milliseconds,
Redis as seconds). An idle timeout under one second needs --allow-subsecond.
With several servers configured, set and revert need --server NAME (the
server to change); show lists every server, or the one --server names.
set and revert preview unless --yes. The previous value is recorded in the audit
log; revert restores the value before the newest change slotwatch made (repeat it
to walk further back).
Exit 0 done (or preview), 1 error, 2 usage, 3 refused by read-only.`

type guardFlags struct {
	targets targetFlags
	role    string
	yes     bool
	asJSON  bool
	showSQL bool
	// subsecond allows an idle timeout under one second, which ends
	// sessions between two queries of a busy request.
	subsecond bool
}

func runGuard(ctx context.Context, env *environment, args []string) int {
	var f guardFlags
	fs := guardFlagSet(env, &f)
	pos, code, done := parseFlagsInterspersed(fs, args)
	if done {
		return code
	}
	req, verb, err := guardRequest(pos, f.role, f.subsecond)
	if err != nil {
		fmt.Fprintf(env.stderr, "slotwatch: %v\n", err)
		return exitUsage
	}
	s, err := f.targets.resolve(env)
	if err != nil {
		return exitFor(env, usageError{err})
	}
	needPG, needRedis := guardTargets(verb, req.Setting, s)
	t, err := pickTargets(s, f.targets.server, needPG, needRedis, verb == "show")
	if err != nil {
		return exitFor(env, err)
	}
	if verb == "show" {
		needPG, needRedis = len(t.pg) > 0, len(t.redis) > 0
	}
	deps, err := openActions(ctx, env, s, t, needPG, needRedis, verb == "show")
	if err != nil {
		return exitFor(env, err)
	}
	defer deps.close()
	if verb == "show" {
		return guardShow(ctx, env, deps.svc, f.role, f.asJSON)
	}
	var change actions.Request = req
	if verb == "revert" {
		change = actions.GuardRevert(req)
	}
	return runPlan(ctx, env, deps.svc, change, outputFlags{yes: f.yes, asJSON: f.asJSON, showSQL: f.showSQL})
}

func guardFlagSet(env *environment, f *guardFlags) *flag.FlagSet {
	fs := newFlagSet(env, "guard")
	f.targets.register(fs)
	f.targets.registerActions(fs)
	f.targets.registerServer(fs)
	fs.StringVar(&f.role, "role", "", "PostgreSQL role the guard applies to")
	fs.BoolVar(&f.yes, "yes", false, "execute; without it set and revert only preview")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&f.showSQL, "show-sql", false, "also print the statement the change runs (always in --json)")
	fs.BoolVar(&f.subsecond, "allow-subsecond", false, "allow an idle timeout under one second")
	return fs
}

// guardRequest reads the positional arguments: show | set NAME VALUE |
// revert NAME.
func guardRequest(pos []string, role string, subsecond bool) (actions.GuardRequest, string, error) {
	if len(pos) == 0 {
		return actions.GuardRequest{}, "", errors.New("guard needs a verb: show, set NAME VALUE or revert NAME; run `slotwatch guard --help`")
	}
	verb, want := pos[0], map[string]int{"show": 1, "set": 3, "revert": 2}
	n, ok := want[verb]
	if !ok {
		return actions.GuardRequest{}, "", fmt.Errorf("unknown guard verb %q: use show, set or revert", verb)
	}
	if len(pos) != n {
		return actions.GuardRequest{}, "", fmt.Errorf("guard %s takes %d argument(s) after the verb, got %d; run `slotwatch guard --help`", verb, n-1, len(pos)-1)
	}
	req := actions.GuardRequest{Role: role}
	if n >= 2 {
		req.Setting = guardName(pos[1])
		if !knownGuard(req.Setting) {
			return req, verb, fmt.Errorf("unknown guard %q: use one of %s", pos[1], strings.Join(actions.Guards(), ", "))
		}
		if req.Setting != actions.GuardRedisTimeout && role == "" {
			return req, verb, fmt.Errorf("%s is set per role: name the role with --role ROLE (for example the application's, --role talentflow)", req.Setting)
		}
	}
	if n == 3 {
		v, err := guardValue(req.Setting, pos[2], subsecond)
		if err != nil {
			return req, verb, err
		}
		req.Value = v
	}
	return req, verb, nil
}

// maxPGTimeout is the largest idle timeout PostgreSQL takes (an int of
// milliseconds).
const maxPGTimeout = math.MaxInt32 * time.Millisecond

// guardValue reads VALUE with the same duration parser as every flag, so
// 5m, 5min and 300s all work, and gives the server a value in its own
// units: PostgreSQL's (5min) for the role settings, whole seconds for the
// Redis timeout.
func guardValue(setting, raw string, subsecond bool) (string, error) {
	v := strings.TrimSpace(raw)
	if err := unitless(setting, v); err != nil {
		return "", err
	}
	hi := maxPGTimeout
	if setting == actions.GuardRedisTimeout {
		hi = math.MaxInt32 * time.Second
	}
	d, err := checkDuration(v, 0, hi)
	if err != nil {
		return "", fmt.Errorf("the %s value %s %v.", setting, display(raw), err)
	}
	if setting != actions.GuardRedisTimeout {
		if d > 0 && d < time.Second && !subsecond {
			return "", fmt.Errorf("the %s value %s is under one second and would end sessions between two queries; pass --allow-subsecond if you mean it.", setting, display(raw))
		}
		return durations.PG(d.Truncate(time.Millisecond)), nil
	}
	if d%time.Second != 0 {
		return "", fmt.Errorf("the %s value %s is not a whole number of seconds, which is all Redis takes.", setting, display(raw))
	}
	return strconv.FormatInt(int64(d/time.Second), 10), nil
}

// unitless refuses a bare non-zero number: PostgreSQL reads it as
// milliseconds and Redis as seconds, so "5" meant as minutes would cut every
// idle session after 5 ms.
func unitless(setting, v string) error {
	if v == "" || strings.Trim(v, "0123456789.") != "" || strings.Trim(v, "0.") == "" {
		return nil
	}
	server, units := "PostgreSQL", "ms, s, min, h or d"
	if setting == actions.GuardRedisTimeout {
		server, units = "Redis", "s, min, h or d"
	}
	return fmt.Errorf("the %s value %s has no unit, and %s would read it as %s; write it with a unit: %s (e.g. %smin).",
		setting, display(v), server, actions.ShowGuardValue(setting, &v), units, v)
}

// guardName accepts dashes for underscores and "timeout" for the Redis one.
func guardName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "redis-timeout", "redis_timeout", "timeout":
		return actions.GuardRedisTimeout
	}
	return strings.ReplaceAll(s, "-", "_")
}

func knownGuard(name string) bool {
	for _, g := range actions.Guards() {
		if g == name {
			return true
		}
	}
	return false
}

// guardTargets says which servers a guard command talks to: show uses
// whichever are configured.
func guardTargets(verb, setting string, s *settings) (pg, redis bool) {
	if verb == "show" {
		return s.PG != "", s.Redis != ""
	}
	if setting == actions.GuardRedisTimeout {
		return false, true
	}
	return true, false
}

func guardShow(ctx context.Context, env *environment, svc *actions.Fleet, role string, asJSON bool) int {
	if !svc.HasPostgres() && !svc.HasRedis() {
		return exitFor(env, usageError{errors.New("no target: pass --pg DSN and/or --redis URL")})
	}
	values, err := svc.ShowGuards(ctx, role)
	if err != nil {
		return exitFor(env, err)
	}
	if asJSON {
		if values == nil {
			values = []actions.GuardValue{}
		}
		_ = writeJSON(env.stdout, values)
		return exitOK
	}
	tw := tabwriter.NewWriter(env.text(), 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tROLE\tSERVER\tVALUE\tREVERT TO")
	for _, v := range values {
		revert := "-"
		if v.RevertOf != "" {
			revert = actions.ShowGuardValue(v.Setting, v.RevertTo)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Setting, cell(termtext.OrDash(v.Role)), cell(guardServer(v)), cell(actions.ShowGuardValue(v.Setting, v.Value)), cell(revert))
	}
	_ = tw.Flush()
	if len(values) == 0 {
		fmt.Fprintln(env.text(), "no role sets idle_session_timeout or idle_in_transaction_session_timeout (name one with --role).")
	}
	return exitOK
}

// guardServer is the SERVER cell: the server's name when several are
// configured (else its target), and the node of a cluster's per-node value.
func guardServer(v actions.GuardValue) string {
	name := firstNonEmpty(v.ServerName, v.Server)
	if v.Node != "" {
		name += " node " + v.Node
	}
	return name
}

// guardOutput is the JSON of guard set and revert.
type guardOutput struct {
	Executed bool                 `json:"executed"`
	Plan     actions.GuardPlan    `json:"plan"`
	Result   *actions.GuardResult `json:"result,omitempty"`
}

// previewGuard prints a guard change that is not applied.
func previewGuard(env *environment, plan actions.GuardPlan, o outputFlags) int {
	if o.asJSON {
		_ = writeJSON(env.stdout, guardOutput{Plan: plan})
		return exitOK
	}
	printGuardPlan(env.text(), plan, o.showSQL)
	fmt.Fprintln(env.text(), "Preview only: nothing was changed. Run again with --yes to apply it.")
	return exitOK
}

// guardExecuted prints an applied guard change; anything but done is exit 1.
func guardExecuted(env *environment, rep actions.Report, o outputFlags) int {
	res, _ := rep.(actions.GuardResult)
	plan := res.Plan
	if o.asJSON {
		_ = writeJSON(env.stdout, guardOutput{Executed: true, Plan: plan, Result: &res})
	} else {
		printGuardPlan(env.text(), plan, o.showSQL)
		if res.Reason != "" {
			fmt.Fprintf(env.text(), "%s: %s\n", res.Outcome, res.Reason)
		} else {
			fmt.Fprintf(env.text(), "%s: %s is now %s (was %s).\n", res.Outcome, plan.Setting, actions.ShowGuardValue(plan.Setting, plan.New), actions.ShowGuardValue(plan.Setting, plan.Current))
		}
	}
	if res.Outcome != actions.Done {
		return exitError
	}
	return exitOK
}

func printGuardPlan(w io.Writer, plan actions.GuardPlan, showSQL bool) {
	fmt.Fprintf(w, "%s %s on %s", plan.Action, plan.Setting, serverTitle(plan.ServerName, plan.Server))
	if plan.Role != "" {
		fmt.Fprintf(w, " for role %s", plan.Role)
	}
	fmt.Fprintf(w, ": %s -> %s\n", actions.ShowGuardValue(plan.Setting, plan.Current), actions.ShowGuardValue(plan.Setting, plan.New))
	if showSQL {
		fmt.Fprintf(w, "statement: %s\n", plan.Statement)
	}
	printNotes(w, plan.Notes)
}
