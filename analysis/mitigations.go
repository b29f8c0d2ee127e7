package analysis

import (
	"fmt"
	"strings"

	"github.com/slotwatch/slotwatch/collectors"
)

// Values the suggested guards use; the Fix text quotes the same ones.
const (
	guardIdleSession = "5min"
	guardIdleInTx    = "60s"
	guardRedis       = "300"
)

// persistentMitigations: guard first, then terminate, because
// idle_session_timeout applies only to sessions started after it is set:
// the sessions that reconnect after the terminate then time out.
func persistentMitigations(pg *collectors.PGStats, k sessionGroupKey, ss []*collectors.Session) []Mitigation {
	var out []Mitigation
	if pg.ServerVersionNum == 0 || pg.ServerVersionNum >= 140000 { // idle_session_timeout is PostgreSQL 14+
		out = append(out, Mitigation{
			Kind: SetPGGuard, Setting: "idle_session_timeout", Role: k.user, Value: guardIdleSession,
			Label: fmt.Sprintf("guard: idle_session_timeout %s for role %s (first: it applies to new sessions only)", guardIdleSession, k.user),
		})
	}
	over := groupIdleOver(ss)
	return append(out, Mitigation{
		Kind: TerminateSessions, App: k.app, User: k.user, DB: k.db, States: []string{"idle"}, IdleOver: over,
		Label: fmt.Sprintf("terminate %s idle > %s", groupLabel(k), shortDuration(over)),
	})
}

func blockerMitigations(b *collectors.Session) []Mitigation {
	out := []Mitigation{{
		Kind: TerminateSessions, PIDs: []int32{b.PID},
		Label: fmt.Sprintf("terminate blocker pid %d (%s)", b.PID, orNone(b.ApplicationName)),
	}}
	if b.Usename != "" {
		out = append(out, Mitigation{
			Kind: SetPGGuard, Setting: "idle_in_transaction_session_timeout", Role: b.Usename, Value: guardIdleInTx,
			Label: fmt.Sprintf("guard: idle_in_transaction_session_timeout %s for role %s", guardIdleInTx, b.Usename),
		})
	}
	return out
}

func leakMitigations(g *collectors.RedisGroup) []Mitigation {
	return []Mitigation{
		{
			Kind: KillRedisClients, RedisHost: g.Host, RedisName: foldedNameGlob(g.Name), RedisLib: g.LibName,
			Label: "kill the clients of " + redisGroupLabel(g),
		},
		{
			Kind: SetRedisTimeout, Setting: "timeout", Value: guardRedis,
			Label: "guard: Redis timeout " + guardRedis + " s (closes clients idle 5 minutes)",
		},
	}
}

// foldedNameGlob turns a folded client name (digit runs as #) into a glob
// for the actions package's matcher: # becomes *, and glob syntax in the
// name itself is bracketed so it matches literally. An empty name stays
// empty (match any).
func foldedNameGlob(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch r {
		case '#':
			b.WriteByte('*')
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
