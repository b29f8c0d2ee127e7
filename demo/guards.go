package demo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/slotwatch/slotwatch/actions"
)

// Guards over the simulation, with the servers' semantics: a PostgreSQL
// role setting (ALTER ROLE … SET) applies to new sessions only, so it
// changes nothing for the sessions already open (the simulated application
// opens no new ones); the Redis timeout applies to every client, existing
// ones included, so it closes the leaked clients idle longer than it and
// bounds the leak from then on.

var (
	_ actions.PGGuardDriver    = (*pgDriver)(nil)
	_ actions.RedisGuardDriver = (*redisDriver)(nil)
)

var simRoles = []string{"postgres", appUser, "slotwatch"}

func (d *pgDriver) ServerVersionNum() int { return pgVersionNum }

func (d *pgDriver) RoleExists(ctx context.Context, role string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("look up role %s: %w", role, err)
	}
	return slices.Contains(simRoles, role), nil
}

func (d *pgDriver) RoleGuardSettings(ctx context.Context, role string, names []string) ([]actions.RoleSetting, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read role settings: %w", err)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	var out []actions.RoleSetting
	for _, r := range simRoles {
		if role != "" && r != role {
			continue
		}
		for _, name := range names {
			if v, ok := d.sim.pg.roleSettings[r][name]; ok {
				out = append(out, actions.RoleSetting{Role: r, Name: name, Value: v})
			}
		}
	}
	slices.SortFunc(out, func(a, b actions.RoleSetting) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

func (d *pgDriver) ApplyRoleSetting(ctx context.Context, role, name string, value *string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", actions.AlterRoleStatement(role, name, value), err)
	}
	if !slices.Contains(simRoles, role) {
		return fmt.Errorf("%s: role %q does not exist", actions.AlterRoleStatement(role, name, value), role)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	settings := d.sim.pg.roleSettings
	if value == nil {
		delete(settings[role], name)
		return nil
	}
	if settings[role] == nil {
		settings[role] = map[string]string{}
	}
	settings[role][name] = *value
	return nil
}

func (d *redisDriver) ConfigGet(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("CONFIG GET %s: %w", name, err)
	}
	if name != "timeout" {
		return "", fmt.Errorf("CONFIG GET %s: the demo's Redis only simulates timeout", name)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	return strconv.FormatInt(int64(d.sim.redis.timeout/time.Second), 10), nil
}

func (d *redisDriver) ConfigSet(ctx context.Context, name, value string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("CONFIG SET %s %s: %w", name, value, err)
	}
	if name != "timeout" {
		return fmt.Errorf("CONFIG SET %s: the demo's Redis only simulates timeout", name)
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("CONFIG SET timeout %s: ERR Invalid argument '%s' for CONFIG SET 'timeout'", value, value)
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	d.sim.redis.timeout = time.Duration(n) * time.Second
	return nil
}
