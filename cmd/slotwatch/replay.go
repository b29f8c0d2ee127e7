package main

import (
	"context"
	"fmt"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/recording"
	"github.com/slotwatch/slotwatch/tui"
)

func runReplay(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "replay")
	var speed float64
	floatVar(fs, &speed, "speed", 1, 0, 1000, "playback speed (+ and - change it while playing)")
	configPath := fs.String("config", "", "YAML config file whose alert overrides apply (as during the recording)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(env.stderr, "slotwatch: replay needs exactly one recording FILE, got %d; run `slotwatch replay --help`.\n", fs.NArg())
		return exitUsage
	}
	targets := targetFlags{configPath: *configPath}
	s, err := targets.resolve(env)
	if err != nil {
		errorSentence(env, err)
		return exitUsage
	}
	frames, notice, err := replayFrames(fs.Arg(0), s.rules)
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	opts := tui.Options{Mode: tui.ModeReplay, Frames: frames, ReplaySpeed: speed, Notice: notice,
		NoColor: noColor(env), Title: fs.Arg(0)}
	if err := tui.Run(ctx, opts); err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}

// replayFrames evaluates the recording with the same pipeline the live
// dashboard uses. Trends are left to the player, which slices one shared
// series instead of keeping a copy per frame.
func replayFrames(path string, rules []analysis.Rule) ([]analysis.Frame, string, error) {
	snaps, bad, err := recording.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	if len(snaps) == 0 {
		return nil, "", fmt.Errorf("the recording %s holds no readable snapshot (%d bad lines); record one with `slotwatch record --out FILE`", path, len(bad))
	}
	pipe := analysis.NewPipeline(rules)
	frames := make([]analysis.Frame, len(snaps))
	for i, s := range snaps {
		frames[i] = pipe.Step(s)
		frames[i].Trend = nil
	}
	notice := fmt.Sprintf("Replaying %d snapshots.", len(snaps))
	if len(bad) > 0 {
		notice += fmt.Sprintf(" %d unreadable lines were skipped (first: %v).", len(bad), bad[0])
	}
	return frames, notice, nil
}
