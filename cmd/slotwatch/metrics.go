package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/metrics"
)

// metricsFlag is --metrics ADDR of watch, record and serve.
type metricsFlag struct{ addr string }

func registerMetrics(fs *flag.FlagSet) *metricsFlag {
	m := &metricsFlag{}
	fs.StringVar(&m.addr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (a bare port means 127.0.0.1; default off)")
	return m
}

// serveFrames serves /metrics from its own mailbox on frames until ctx
// ends, when --metrics is given. It binds the port before returning, so a
// taken port fails the command at start.
func (m *metricsFlag) serveFrames(ctx context.Context, env *environment, frames *analysis.FrameHub) error {
	if m == nil || m.addr == "" {
		return nil
	}
	l, err := metrics.Listen(m.addr)
	if err != nil {
		return err
	}
	feed := frames.Subscribe("metrics")
	e := metrics.New(feed, metrics.DefaultTopN)
	fmt.Fprintf(env.stderr, "slotwatch: Prometheus metrics at http://%s/metrics\n", l.Addr())
	go func() {
		defer frames.Unsubscribe(feed)
		if err := metrics.Serve(ctx, l, e); err != nil && ctx.Err() == nil {
			errorSentence(env, err)
		}
	}()
	return nil
}

// serveSnapshots is serveFrames for a command without an analysis
// pipeline of its own (record): it starts one on its own mailbox of snaps,
// only when --metrics is given.
func (m *metricsFlag) serveSnapshots(ctx context.Context, env *environment, snaps *collectors.Hub, rules []analysis.Rule) error {
	if m == nil || m.addr == "" {
		return nil
	}
	frames := analysis.NewFrameHub()
	if err := m.serveFrames(ctx, env, frames); err != nil {
		return err
	}
	go analysis.Stream(ctx, analysis.NewPipeline(rules), snaps.Subscribe("metrics-analysis"), frames)
	return nil
}

// alertingConfig is the alerting section for the collectors: nil when it
// names no server. Alerts about other databases than --db are left out.
func alertingConfig(s *settings) *collectors.AlertingConfig {
	a := s.Alerting
	if a.Alertmanager == "" && a.Prometheus == "" {
		return nil
	}
	cfg := &collectors.AlertingConfig{Alertmanager: a.Alertmanager, Prometheus: a.Prometheus, Interval: a.Interval}
	if s.DB != "" {
		cfg.Databases = []string{s.DB}
	}
	return cfg
}
