package main

import (
	"context"
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/tui"
)

func runDemo(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "demo")
	seed := fs.Int64("seed", 1, "simulation seed (pids, addresses and ages vary; the incident's numbers do not)")
	speed := fs.Float64("speed", 1, "simulated seconds per real second")
	warm := fs.Duration("warm", 12*time.Minute, "simulated time run before the screen opens, so alerts already fire")
	readOnly := fs.Bool("read-only", false, "disable every mitigation, as in production with --read-only")
	var dash dashboardFlags
	dash.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "Usage: slotwatch demo [--seed N] [--speed X] [--warm D] [--read-only]")
		fmt.Fprintln(env.stderr, "The dashboard on a built-in simulation of the TalentFlow incident; no server needed.")
		fmt.Fprintln(env.stderr, "Mitigations act on the simulation, so the demo doubles as a training mode. Press ? for the keys.")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 || *speed <= 0 || *warm < 0 {
		fmt.Fprintln(env.stderr, "slotwatch: demo takes no arguments and needs a positive --speed; run `slotwatch demo --help`.")
		return exitUsage
	}
	sim := demo.New(demo.Options{Seed: *seed, Speed: *speed})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	warmUp(sim, pipe, *warm, 5*time.Second)

	audit, err := actions.OpenAuditLog("") // in memory: the demo leaves no file behind
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	defer audit.Close()
	policy := actions.DefaultPolicy()
	policy.ReadOnly = *readOnly
	svc := actions.NewService(sim.PGDriver(), sim.RedisDriver(), policy, audit, actions.CurrentOperator(env.getenv))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mb := collectors.NewMailbox()
	go sim.Run(ctx, mb)
	opts := tui.Options{
		Mode: tui.ModeDemo, Mailbox: mb, Pipeline: pipe, Mitigator: svc, GroupIdleOver: dash.idleOver(nil),
		NoColor: noColor(env), Title: "TalentFlow incident (simulated)",
		Notice: "Demo: a simulated incident. Actions change the simulation only. Press ? for the keys.",
	}
	if err := tui.Run(ctx, opts); err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}
