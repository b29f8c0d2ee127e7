package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/slotwatch/slotwatch/actions"
)

type redisKillFlags struct {
	targets  targetFlags
	ids      intListFlag
	host     string
	name     string
	lib      string
	idleOver time.Duration
	ageOver  time.Duration
	yes      bool
	asJSON   bool
	showSQL  bool
}

func (f *redisKillFlags) register(fs *flag.FlagSet) {
	f.targets.register(fs)
	f.targets.registerActions(fs)
	f.targets.registerServer(fs)
	f.ids = intListFlag{lo: 1, hi: maxClientID}
	fs.Var(&f.ids, "id", "client id from CLIENT LIST (repeat or comma-separate)")
	fs.StringVar(&f.host, "host", "", "client host (addr without the port), exact or glob")
	fs.StringVar(&f.name, "name", "", "client name, exact or glob (cache-*)")
	fs.StringVar(&f.lib, "lib", "", "client lib-name (Redis 7.2+), exact or glob (redis-py)")
	durationVar(fs, &f.idleOver, "idle-over", 0, 0, maxDuration, "only clients idle longer than this, e.g. 5m or 5min")
	durationVar(fs, &f.ageOver, "age-over", 0, 0, maxDuration, "only clients connected longer than this, e.g. 1h")
	fs.BoolVar(&f.yes, "yes", false, "execute; without it the command only previews and changes nothing")
	fs.BoolVar(&f.asJSON, "json", false, "print the plan (and results) as JSON")
	fs.BoolVar(&f.showSQL, "show-sql", false, "also print the statement the action runs (always in --json)")
}

func (f *redisKillFlags) filter() actions.RedisFilter {
	return actions.RedisFilter{IDs: f.ids.vals, Host: f.host, Name: f.name, Lib: f.lib, IdleOver: f.idleOver, AgeOver: f.ageOver}
}

func runRedisKill(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "redis-kill")
	var f redisKillFlags
	f.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: redis-kill takes flags only, got %q; use --id N for client ids.\n", fs.Arg(0))
		return exitUsage
	}
	if f.filter().Empty() {
		fmt.Fprintln(env.stderr, "slotwatch: redis-kill needs at least one filter (--host, --name, --lib, --idle-over, --age-over) or --id; it never means every client.")
		return exitUsage
	}
	s, err := f.targets.resolve(env)
	if err != nil {
		return exitFor(env, usageError{err})
	}
	t, err := pickTargets(s, f.targets.server, false, true, false)
	if err != nil {
		return exitFor(env, err)
	}
	deps, err := openActions(ctx, env, s, t, false, true, false)
	if err != nil {
		return exitFor(env, err)
	}
	defer deps.close()
	return runPlan(ctx, env, deps.svc, f.filter(), outputFlags{yes: f.yes, asJSON: f.asJSON, showSQL: f.showSQL})
}

func previewRedis(env *environment, plan actions.RedisPlan, yes, asJSON, showSQL bool) int {
	if asJSON {
		_ = writeJSON(env.stdout, actionOutput[actions.Plan]{Plan: plan, Results: []actions.TargetResult{}})
	} else {
		printRedisPlan(env.text(), plan, showSQL)
	}
	switch {
	case len(plan.Targets) == 0 && len(plan.Excluded) > 0:
		fmt.Fprintln(env.stderr, "slotwatch: every matching client is protected by the safety policy; nothing to do.")
		return exitRefused
	case len(plan.Targets) == 0:
		fmt.Fprintln(env.stderr, "slotwatch: no client matches; nothing to do.")
	case !yes && !asJSON:
		fmt.Fprintf(env.text(), "Preview only: nothing was changed. Run again with --yes to kill these %d client(s).\n", len(plan.Targets))
	}
	return exitOK
}

func printRedisPlan(w io.Writer, plan actions.RedisPlan, showSQL bool) {
	fmt.Fprintf(w, "redis-kill on %s where %s: %d client(s)\n", serverTitle(plan.ServerName, plan.Server), plan.Filter, len(plan.Targets))
	if len(plan.Targets) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tADDR\tNAME\tLIB\tAGE\tIDLE\tCMD")
		for _, c := range plan.Targets {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%ds\t%ds\t%s\n", c.ID, cell(c.Addr), cell(shortClient(c)), cell(c.LibName), c.AgeSeconds, c.IdleSeconds, cell(c.Cmd))
		}
		_ = tw.Flush()
	}
	if len(plan.Excluded) > 0 {
		fmt.Fprintf(w, "excluded by the safety policy (%d):\n", len(plan.Excluded))
		for _, x := range plan.Excluded {
			fmt.Fprintf(w, "  client %d (%s, %s): %s\n", x.Client.ID, cell(x.Client.Addr), cell(shortClient(x.Client)), x.Reason)
		}
	}
	printNotes(w, plan.Notes)
	if showSQL {
		fmt.Fprintf(w, "statement: %s\n", plan.Statement)
	}
}
