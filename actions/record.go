package actions

import (
	"fmt"
	"slices"
	"time"
)

// goneLookback is how far back the audit log is searched for the action
// that terminated a target this action found gone.
const goneLookback = time.Hour

// explainGone names, for each target found already gone, the other action
// that terminated it (or is terminating it) according to the audit log: two
// operators acting on the same sessions see who was first.
func (s *Service) explainGone(self, server, action string, results []TargetResult) {
	if !slices.ContainsFunc(results, func(r TargetResult) bool { return r.Outcome == Gone }) {
		return
	}
	entries := s.audit.Recent(recentKept)
	since := s.now().Add(-goneLookback)
	for i := range results {
		r := &results[i]
		if r.Outcome != Gone {
			continue
		}
		if why := goneBy(entries, self, server, action, clientKey{r.Node, r.ID}, since); why != "" {
			r.Reason = why
		}
	}
}

// goneBy finds the newest other action of the same kind (terminate or
// redis-kill) that did (result) or may have (intent without result yet)
// ended the target on server: a pid or client id, on its node for a Redis
// Cluster client.
func goneBy(entries []AuditEntry, self, server, action string, target clientKey, since time.Time) string {
	verb, doing := "terminated", "terminating"
	if action == ActionRedisKill {
		verb, doing = "killed", "killing"
	}
	results := map[string]bool{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.ActionID == self || e.Server != server || e.Action != action || e.Time.Before(since) {
			continue
		}
		switch e.Phase {
		case PhaseResult:
			results[e.ActionID] = true
			if e.ended(target, true) {
				return fmt.Sprintf("already %s by %s at %s", verb, e.Operator.Name(), e.Time.UTC().Format("15:04:05"))
			}
		case PhaseIntent:
			if !results[e.ActionID] && e.ended(target, false) {
				return fmt.Sprintf("already gone: %s is %s it (since %s)", e.Operator.Name(), doing, e.Time.UTC().Format("15:04:05"))
			}
		}
	}
	return ""
}

// ended reports whether the entry lists target as done (result lines) or
// previewed (intent lines). A Redis Cluster target is looked up by node and
// id, since ids repeat across nodes.
func (e AuditEntry) ended(target clientKey, done bool) bool {
	if target.node != "" || len(e.NodeTargets) > 0 {
		return slices.ContainsFunc(e.NodeTargets, func(t NodeTarget) bool {
			return t.Node == target.node && t.ID == target.id && (!done || t.Outcome == Done)
		})
	}
	if done {
		return slices.Contains(e.Done, target.id)
	}
	return slices.Contains(e.Previewed, target.id)
}
