package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/recording"
)

func runRecord(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "record")
	var targets targetFlags
	targets.register(fs)
	out := fs.String("out", "", "recording file to create (JSON lines; a name ending in .gz is gzip-compressed)")
	mf := registerMetrics(fs)
	var duration time.Duration
	durationVar(fs, &duration, "for", 0, 1, maxDuration, "stop after this long, e.g. 30m or 30min (default: until Ctrl-C)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, "slotwatch: record needs --out FILE and no arguments; run `slotwatch record --help`.")
		return exitUsage
	}
	s, cfg, code, done := targets.collect(env)
	if done {
		return code
	}
	w, err := recording.Create(*out)
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	if !strings.HasSuffix(*out, ".gz") {
		fmt.Fprintln(env.stderr, "slotwatch: hint: a name ending in .gz (run.jsonl.gz) compresses the recording about 15 times; an hour of the incident at 1 s is ~270 MB plain.")
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	err = record(ctx, env, cfg, w, s.Interval, mf, s.rules)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	size := ""
	if st, serr := os.Stat(*out); serr == nil {
		size = fmt.Sprintf(", %.1f kB", float64(st.Size())/1000)
	}
	fmt.Fprintf(env.stderr, "slotwatch: wrote %d snapshots to %s%s\n", w.Count(), *out, size)
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}

// record writes about one snapshot per refresh interval until ctx ends.
// Every source publishes the merged snapshot when it samples, so
// PostgreSQL, Redis, the probe and jobs would give several nearly equal
// snapshots a second; one per interval keeps an hour at 1 s to 3,600 lines.
// The recorder's mailbox on the hub keeps only the newest snapshot, so a
// slow disk skips snapshots rather than holding the collectors back.
func record(ctx context.Context, env *environment, cfg collectors.Config, w *recording.Writer, every time.Duration,
	mf *metricsFlag, rules []analysis.Rule) error {
	collectCtx, stop := context.WithCancel(ctx)
	defer stop()
	snaps := collectors.NewHub()
	mb := snaps.Subscribe("recorder")
	if err := mf.serveSnapshots(collectCtx, env, snaps, rules); err != nil {
		return err
	}
	if _, err := collectors.Start(collectCtx, cfg, snaps); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "slotwatch: recording to %s (Ctrl-C to stop)\n", w.Path())
	reported := map[string]string{}
	return recordSnapshots(ctx, mb, every, func(snap collectors.Snapshot) error {
		reportSourceErrors(env, snap, reported)
		return w.Write(snap)
	})
}

// reportSourceErrors prints a source's error when it first appears or
// changes, and once when the source recovers, instead of every second.
func reportSourceErrors(env *environment, snap collectors.Snapshot, reported map[string]string) {
	for src, msg := range snap.Errors {
		if reported[src] != msg {
			fmt.Fprintf(env.stderr, "slotwatch: %s %s: %s\n", snap.TakenAt.Format(time.TimeOnly), src, msg)
			reported[src] = msg
		}
	}
	for src := range reported {
		if _, still := snap.Errors[src]; !still {
			fmt.Fprintf(env.stderr, "slotwatch: %s %s answers again\n", snap.TakenAt.Format(time.TimeOnly), src)
			delete(reported, src)
		}
	}
}
