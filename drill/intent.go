package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrDeclined is returned when Config.Confirm turns the drill down: nothing
// was created or taken.
var ErrDeclined = errors.New("the drill was not confirmed; nothing was created or taken")

// Intent is what the drill is about to take, computed from the server's own
// max_connections and reserved slots before it creates or opens anything, so
// that a person can say no.
type Intent struct {
	Plan         Plan   `json:"plan"`
	Server       string `json:"server"`            // PostgreSQL host:port
	Through      string `json:"through,omitempty"` // the pooler's host:port
	Exhaust      bool   `json:"exhaust"`
	Redis        string `json:"redis,omitempty"` // Redis host:port; empty: no Redis
	RedisClients int    `json:"redis_clients"`
	Database     string `json:"database"`
	Role         string `json:"role"`
}

// String is one sentence: "will hold 34 of 37 usable slots on db1:5432 and
// open up to 300 Redis clients on cache:6379 (database talentflow_drill and
// role talentflow, created if missing)".
func (i Intent) String() string {
	var b strings.Builder
	if i.Through != "" {
		fmt.Fprintf(&b, "will open %d clients of the pooler at %s in front of %s (%d usable slots)", i.Plan.Total(), i.Through, i.Server, i.Plan.Usable)
	} else {
		fmt.Fprintf(&b, "will hold %d of %d usable slots on %s", i.Plan.Total(), i.Plan.Usable, i.Server)
		if i.Exhaust {
			b.WriteString(", then every remaining non-reserved one,")
		}
	}
	if i.Redis != "" {
		fmt.Fprintf(&b, " and open up to %d Redis clients on %s", i.RedisClients, i.Redis)
	}
	fmt.Fprintf(&b, " (database %s and role %s, created if missing)", i.Database, i.Role)
	return b.String()
}

// intent is what cfg will take from the server described by info.
func intent(cfg Config, info serverInfo) (Intent, error) {
	plan, err := planSessions(cfg, info)
	if err != nil {
		return Intent{}, err
	}
	in := Intent{Plan: plan, Server: info.Target, Exhaust: cfg.Exhaust, Database: cfg.Database, Role: cfg.Role}
	if cfg.Through != "" {
		app, err := pooledConfig(cfg)
		if err != nil {
			return in, err
		}
		in.Through = fmt.Sprintf("%s:%d", app.Host, app.Port)
	}
	if cfg.RedisURL != "" {
		opts, err := parseRedisURL(cfg.RedisURL)
		if err != nil {
			return in, err
		}
		in.Redis, in.RedisClients = opts.Addr, cfg.RedisClients
	}
	return in, nil
}

// confirm asks cfg.Confirm, if set, whether to take what the drill plans.
func confirm(ctx context.Context, cfg Config, info serverInfo) error {
	if cfg.Confirm == nil {
		return nil
	}
	in, err := intent(cfg, info)
	if err != nil {
		return err
	}
	return cfg.Confirm(ctx, in)
}
