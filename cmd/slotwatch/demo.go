package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/tui"
)

func runDemo(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "demo")
	var seed int64
	var speed float64
	var warm time.Duration
	intVar(fs, &seed, "seed", 1, math.MinInt64, math.MaxInt64, "simulation seed (pids, addresses and ages vary; the incident's numbers do not)")
	floatVar(fs, &speed, "speed", 1, 0, 1000, "simulated seconds per real second")
	durationVar(fs, &warm, "warm", 12*time.Minute, 0, 7*day, "simulated time run before the screen opens, so alerts already fire")
	readOnly := fs.Bool("read-only", false, "disable every mitigation, as in production with --read-only")
	var dash dashboardFlags
	dash.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: demo takes no arguments, got %s; run `slotwatch demo --help`.\n", display(fs.Arg(0)))
		return exitUsage
	}
	sim := demo.New(demo.Options{Seed: seed, Speed: speed})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	warmUp(sim, pipe, warm, 5*time.Second)

	audit, err := actions.OpenAuditLog("") // in memory: the demo leaves no file behind
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	defer audit.Close()
	policy := actions.DefaultPolicy()
	policy.ReadOnly = *readOnly
	svc := actions.NewService(sim.PGDriver(), sim.RedisDriver(), policy, audit, actions.CurrentOperator(env.getenv)).WithClock(sim.Now)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := newLiveFeed(ctx, pipe)
	go sim.Run(ctx, feed.snaps)
	opts := tui.Options{
		Mode: tui.ModeDemo, Feed: feed.frames.Subscribe("dashboard"), Mitigator: svc, GroupIdleOver: dash.idleOver(nil),
		NoColor: noColor(env), Title: "TalentFlow incident (simulated)",
		Notice: "Demo: a simulated incident. Actions change the simulation only. Press ? for the keys.",
	}
	if err := tui.Run(ctx, opts); err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}
