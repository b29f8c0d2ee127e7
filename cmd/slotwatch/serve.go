package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/demo"
	"github.com/slotwatch/slotwatch/serve"
	"github.com/slotwatch/slotwatch/tui"
)

// serveFlags are serve's own flags.
type serveFlags struct {
	listen, hostKey, authorizedKeys, record string
	stallTimeout                            time.Duration
	demo                                    bool
	metrics                                 *metricsFlag
}

func runServe(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "serve")
	var targets targetFlags
	targets.register(fs)
	targets.registerActions(fs)
	var dash dashboardFlags
	dash.register(fs)
	var f serveFlags
	fs.StringVar(&f.listen, "listen", serve.DefaultListen, "address to accept SSH connections on (beyond loopback is an explicit choice)")
	fs.StringVar(&f.authorizedKeys, "authorized-keys", "", "OpenSSH authorized_keys file of the engineers' public keys, re-read on every login (required)")
	fs.StringVar(&f.hostKey, "host-key", "", "SSH host key, created on first run (default $XDG_STATE_HOME/slotwatch/ssh_host_ed25519_key)")
	fs.StringVar(&f.record, "record", "", "also write every snapshot to this recording (JSON lines; .gz compresses)")
	durationVar(fs, &f.stallTimeout, "stall-timeout", serve.DefaultStallTimeout, time.Second, time.Hour, "drop a session whose terminal accepts no output for this long")
	fs.BoolVar(&f.demo, "demo", false, "serve the built-in TalentFlow simulation instead of servers (war-room training)")
	f.metrics = registerMetrics(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, "slotwatch: serve takes no arguments; run `slotwatch serve --help`.")
		return exitUsage
	}
	if f.authorizedKeys == "" {
		fmt.Fprintln(env.stderr, "slotwatch: serve needs --authorized-keys FILE (OpenSSH authorized_keys format): without it nobody may log in.")
		return exitUsage
	}
	if err := serve.CheckAuthorizedKeys(f.authorizedKeys); err != nil {
		errorSentence(env, err)
		return exitUsage
	}
	if f.hostKey == "" {
		f.hostKey = filepath.Join(filepath.Dir(defaultAuditLog(env)), "ssh_host_ed25519_key")
	}
	var s *settings
	var cfg collectors.Config
	if f.demo {
		var err error
		if s, err = targets.resolve(env); err != nil {
			errorSentence(env, err)
			return exitError
		}
	} else {
		var code int
		var done bool
		if s, cfg, code, done = targets.collect(env); done {
			return code
		}
	}
	return serveSessions(signalContext(ctx), env, s, cfg, dash, f, targets.auditLog)
}

// signalContext ends on SIGINT, SIGTERM or SIGHUP with the signal as its
// cause, which every session's last message names. It does not inherit
// the parent's cancellation, which would hide the signal's name.
func signalContext(parent context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		defer signal.Stop(sigs)
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("%s received", signalName(sig)))
		case <-parent.Done():
			// The command's own handler sees the same signal: prefer its name.
			select {
			case sig := <-sigs:
				cancel(fmt.Errorf("%s received", signalName(sig)))
			case <-time.After(100 * time.Millisecond):
				cancel(errors.New("stopped"))
			}
		}
	}()
	return ctx
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	default:
		return "SIGINT"
	}
}

func serveSessions(ctx context.Context, env *environment, s *settings, cfg collectors.Config,
	dash dashboardFlags, f serveFlags, auditFlag string) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	auditPath := s.AuditLog
	if f.demo && auditFlag == "" {
		auditPath = "" // the demo keeps its audit log in memory unless asked
	}
	audit, err := actions.OpenAuditLog(auditPath)
	if err != nil {
		errorSentence(env, fmt.Errorf("cannot open the audit log: %w; give a writable --audit-log FILE", err))
		return exitError
	}
	defer audit.Close()

	dashboard := tui.Options{Mode: tui.ModeLive, GroupIdleOver: dash.idleOver(s)}
	var feed *liveFeed
	var svc *actions.Fleet
	if f.demo {
		feed, svc = serveDemo(ctx, s, audit)
		dashboard.Mode, dashboard.Title = tui.ModeDemo, "TalentFlow incident (simulated)"
		dashboard.Notice = "Demo: a simulated incident. Actions change the simulation only. Press ? for the keys."
	} else {
		feed = newLiveFeed(ctx, analysis.NewPipeline(s.rules))
		set, err := collectors.Start(ctx, cfg, feed.snaps)
		if err != nil {
			errorSentence(env, err)
			return exitError
		}
		if svc, err = actionFleet(set, s.policy(), audit, actions.Operator{}); err != nil {
			errorSentence(env, err)
			return exitError
		}
		if set.MaxLive() > 0 {
			// One collector set for every viewer: an attach is shared,
			// and serve lets only operators attach or detach.
			dashboard.Attacher = set
		}
	}
	if err := f.metrics.serveFrames(ctx, env, feed.frames); err != nil {
		errorSentence(env, err)
		return exitError
	}
	if f.record != "" {
		recErrs, closeRecording, ok := openRecording(ctx, env, f.record, feed.snaps, s.Interval)
		if !ok {
			return exitError
		}
		defer closeRecording()
		go func() {
			select {
			case err := <-recErrs:
				errorSentence(env, fmt.Errorf("recording to %s stopped: %w; serving continues without it", f.record, err))
			case <-ctx.Done():
			}
		}()
	}
	srv, err := serve.Listen(serve.Config{Listen: f.listen, HostKey: f.hostKey, AuthorizedKeys: f.authorizedKeys,
		Operators: s.Serve.Operators, Frames: feed.frames, Actions: svc, Dashboard: dashboard,
		StallTimeout: f.stallTimeout, Log: env.stderr})
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	fmt.Fprintf(env.stderr, "slotwatch: serving the dashboard on %s: connect with `%s`; %d operator keys configured. SIGTERM or SIGHUP ends every session.\n",
		srv.Addr(), srv.SSHCommand(), len(s.Serve.Operators))
	if err := srv.Serve(ctx); err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}

// serveDemo feeds the hub from the simulation, warmed up as `slotwatch
// demo` is, with actions acting on the simulation.
func serveDemo(ctx context.Context, s *settings, audit *actions.AuditLog) (*liveFeed, *actions.Fleet) {
	sim := demo.New(demo.Options{Seed: 1, Speed: 1})
	pipe := analysis.NewPipeline(s.rules)
	warmUp(sim, pipe, 12*time.Minute, 5*time.Second)
	feed := newLiveFeed(ctx, pipe)
	go sim.Run(ctx, feed.snaps)
	return feed, actions.SingleFleet(actions.NewService(sim.PGDriver(), sim.RedisDriver(), s.policy(), audit, actions.Operator{}))
}
