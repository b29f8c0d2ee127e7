package main

import (
	"context"
	"fmt"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/tui"
)

func runWatch(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "watch")
	var targets targetFlags
	targets.register(fs)
	targets.registerActions(fs)
	var dash dashboardFlags
	dash.register(fs)
	recordPath := fs.String("record", "", "also write every snapshot to this recording (JSON lines; .gz compresses)")
	mf := registerMetrics(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: watch takes no arguments, got %q; run `slotwatch watch --help`.\n", fs.Arg(0))
		return exitUsage
	}
	s, cfg, code, done := targets.collect(env)
	if done {
		return code
	}
	return watch(ctx, env, s, cfg, dash, *recordPath, mf)
}

func watch(ctx context.Context, env *environment, s *settings, cfg collectors.Config,
	dash dashboardFlags, recordPath string, mf *metricsFlag) int {
	audit, err := actions.OpenAuditLog(s.AuditLog)
	if err != nil {
		errorSentence(env, fmt.Errorf("cannot open the audit log: %w; give a writable --audit-log FILE", err))
		return exitError
	}
	defer audit.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := newLiveFeed(ctx, analysis.NewPipeline(s.rules))
	if err := mf.serveFrames(ctx, env, feed.frames); err != nil {
		errorSentence(env, err)
		return exitError
	}
	opts := tui.Options{
		Mode: tui.ModeLive, Feed: feed.frames.Subscribe("dashboard"),
		GroupIdleOver: dash.idleOver(s), NoColor: noColor(env),
	}
	if recordPath != "" {
		recErrs, closeRecording, ok := openRecording(ctx, env, recordPath, feed.snaps, s.Interval)
		if !ok {
			return exitError
		}
		defer closeRecording()
		opts.RecordingErrors = recErrs
	}
	set, err := collectors.Start(ctx, cfg, feed.snaps)
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	// on the collectors' connections: no slot of their own
	fleet, err := actionFleet(set, s.policy(), audit, actions.CurrentOperator(env.getenv))
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	opts.Mitigator = fleet
	if set.MaxLive() > 0 {
		opts.Attacher = set // a / d in the fleet view
	}
	if err := tui.Run(ctx, opts); err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}
