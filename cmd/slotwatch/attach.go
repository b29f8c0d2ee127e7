package main

import (
	"strings"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

// liveServers lets the actions reach the servers attached to the set,
// each on its own collector's connection (actionDrivers' rule), for as
// long as it is attached.
type liveServers struct{ set *collectors.Set }

func (l liveServers) LiveDrivers(kind, name string) (actions.PGDriver, actions.RedisDriver, bool) {
	if !strings.HasPrefix(name, collectors.LivePrefix) {
		return nil, nil, false
	}
	switch kind {
	case collectors.SourcePostgres:
		if r := l.set.PGServer(name); r != nil {
			return actions.NewPGDriver(r), nil, true
		}
	case collectors.SourceRedis:
		if r := l.set.RedisServer(name); r != nil {
			return nil, actions.NewRedisDriver(r), true
		}
	}
	return nil, nil, false
}
