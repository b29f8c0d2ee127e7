package main

import (
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// fleetSection is the config file's fleet: the whole fleet read from the
// team's Prometheus, and how an instance of it is watched live.
type fleetSection struct {
	Prometheus string        `yaml:"prometheus"` // base URL; --fleet-prometheus overrides it
	Interval   time.Duration `yaml:"interval"`   // default 15s
	GroupBy    []string      `yaml:"group_by"`   // default cluster, region, instance
	Window     time.Duration `yaml:"window"`     // sparkline span, default 15m
	StaleAfter time.Duration `yaml:"stale_after"`
	// MaxLive is how many instances may be attached live at once (each
	// holds one connection); default 3.
	MaxLive int `yaml:"max_live"`
	// Live renders each instance's live target from its labels
	// ({{.host}}); passwords come from .pgpass, PGPASSFILE or the
	// environment, never from labels.
	Live struct {
		Postgres  string `yaml:"postgres"`
		PGService string `yaml:"pg_service"`
		Redis     string `yaml:"redis"`
	} `yaml:"live"`
}

// promFleetConfig is the fleet source for the collectors: nil when no
// Prometheus is named.
func promFleetConfig(s *settings) *collectors.PromFleetConfig {
	f := s.Fleet
	if f.Prometheus == "" {
		return nil
	}
	return &collectors.PromFleetConfig{URL: f.Prometheus, Interval: f.Interval, GroupBy: f.GroupBy,
		Window: f.Window, StaleAfter: f.StaleAfter, MaxLive: f.MaxLive,
		Live: collectors.LiveTemplates{Postgres: f.Live.Postgres, PGService: f.Live.PGService, Redis: f.Live.Redis}}
}
