package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// ClearedRetention is how long a finding whose evidence stopped holding
// stays in the frame, at severity info with the reason, so the screen says
// it went away and why instead of silently dropping it.
const ClearedRetention = 5 * time.Minute

// Severities, most severe first.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// SeverityRank orders severities: critical 3, warning 2, info 1, other 0.
func SeverityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// findingTrack is what the pipeline remembers of one finding (ID + About).
type findingTrack struct {
	since   time.Time
	peak    string // highest severity while open
	last    Finding
	cleared time.Time
	why     string
	downAt  time.Time // when it fell below peak; zero while at peak
}

type findingTracker struct {
	open map[string]*findingTrack
}

func findingKey(f *Finding) string { return f.ID + "\x00" + f.About }

// track sets Since on the current findings, notes downgrades, and appends
// the findings that cleared within ClearedRetention with their reason.
func (t *findingTracker) track(in *input, cur []Finding) []Finding {
	if t.open == nil {
		t.open = map[string]*findingTrack{}
	}
	now := in.snap.TakenAt
	seen := make(map[string]bool, len(cur))
	for i := range cur {
		f := &cur[i]
		k := findingKey(f)
		t.rekeyServerFinding(f, k)
		seen[k] = true
		tr := t.open[k]
		if tr == nil || !tr.cleared.IsZero() {
			tr = &findingTrack{since: now, peak: f.Severity}
			t.open[k] = tr
		}
		f.Since = tr.since
		switch r := SeverityRank(f.Severity); {
		case r >= SeverityRank(tr.peak):
			tr.peak, tr.downAt = f.Severity, time.Time{}
		case tr.downAt.IsZero():
			tr.downAt = now
		}
		if !tr.downAt.IsZero() {
			f.Evidence = append([]string{fmt.Sprintf("downgraded from %s at %s; the evidence below says why", tr.peak, tr.downAt.UTC().Format("15:04:05"))}, f.Evidence...)
		}
		tr.last = *f
	}
	var gone []Finding
	for _, k := range sortedKeys(t.open) {
		tr := t.open[k]
		if seen[k] {
			continue
		}
		if tr.cleared.IsZero() && heldByPrivilege(in, &tr.last) {
			held := tr.last
			held.Evidence = append([]string{"held as last seen: " + in.snap.Postgres.PrivilegeGap()}, held.Evidence...)
			cur = append(cur, held)
			continue
		}
		if tr.cleared.IsZero() {
			tr.cleared, tr.why = now, clearReason(in, &tr.last)
		}
		if now.Sub(tr.cleared) > ClearedRetention {
			delete(t.open, k)
			continue
		}
		gone = append(gone, clearedFinding(tr))
	}
	return append(cur, gone...)
}

// rekeyServerFinding keeps one connections-refused finding per server: its
// subject is the server's target while PostgreSQL answers and a generic
// name while it does not, and that change of wording is the same refusal,
// not one finding clearing "for another reason" beside a new one. The
// earlier track moves to the current key, keeping its since and peak.
func (t *findingTracker) rekeyServerFinding(f *Finding, k string) {
	kind, _, _ := strings.Cut(f.ID, "/")
	if kind != FindingConnectionsRefused || t.open[k] != nil {
		return
	}
	for _, old := range sortedKeys(t.open) {
		if oldKind, _, _ := strings.Cut(t.open[old].last.ID, "/"); oldKind == kind {
			t.open[k] = t.open[old]
			delete(t.open, old)
			return
		}
	}
}

func clearedFinding(tr *findingTrack) Finding {
	f := tr.last
	return Finding{
		ID: f.ID, Severity: SeverityInfo, Title: f.Title, About: f.About, Since: tr.since, Cleared: tr.cleared,
		Evidence: []string{
			fmt.Sprintf("cleared at %s: %s", tr.cleared.UTC().Format("15:04:05"), tr.why),
			fmt.Sprintf("it was %s from %s", tr.peak, tr.since.UTC().Format("15:04:05")),
		},
	}
}

// clearReason says why a finding's evidence no longer holds in the latest
// snapshot, in the finding's own terms.
func clearReason(in *input, f *Finding) string {
	kind, subject, _ := strings.Cut(f.ID, "/")
	s := in.snap
	source := map[string]string{
		FindingPersistentConnections: collectors.SourcePostgres, FindingIdleInTxBlocker: collectors.SourcePostgres,
		FindingConnectionsRefused: collectors.SourceProbe, FindingRedisClientLeak: collectors.SourceRedis,
		FindingCheckThenInsertRace: collectors.SourceJobs, FindingBlindByPrivilege: collectors.SourcePostgres,
	}[kind]
	if source != "" && !sourceFresh(s, source) {
		return fmt.Sprintf("no fresh data from %s, so the evidence cannot be confirmed", source)
	}
	switch kind {
	case FindingPersistentConnections:
		return persistentClearReason(in, subject)
	case FindingIdleInTxBlocker:
		pid, _ := strconv.ParseInt(subject, 10, 32)
		for i := range s.Postgres.Sessions {
			if x := &s.Postgres.Sessions[i]; x.PID == int32(pid) {
				return fmt.Sprintf("pid %d is %s and no longer blocks an idle-in-transaction lock chain", pid, x.State)
			}
		}
		return fmt.Sprintf("pid %d is gone", pid)
	case FindingConnectionsRefused:
		if s.Probe.OK {
			return fmt.Sprintf("the connect probe succeeds again (%.0f ms)", s.Probe.ConnectMS)
		}
		return fmt.Sprintf("the connect probe fails for another reason (SQLSTATE %s)", orNone(s.Probe.SQLState))
	case FindingRedisClientLeak:
		for i := range s.Redis.Groups {
			if g := &s.Redis.Groups[i]; g.Key() == subject {
				return fmt.Sprintf("the group now has %d clients and neither grows steadily nor holds clients used only once (a finding needs %d)", g.Count, minLeakClients)
			}
		}
		return "the group has no client left"
	case FindingCheckThenInsertRace:
		return "no row is over its limit any more"
	case FindingBlindByPrivilege:
		return fmt.Sprintf("every session is visible to %s again", f.About)
	}
	return "its evidence no longer holds"
}

func persistentClearReason(in *input, subject string) string {
	parts := strings.SplitN(subject, "|", 3)
	if len(parts) != 3 {
		return "its evidence no longer holds"
	}
	k := sessionGroupKey{parts[0], parts[1], parts[2]}
	pg, now := in.snap.Postgres, in.snap.TakenAt
	n := 0
	for i := range pg.Sessions {
		x := &pg.Sessions[i]
		if !x.Hidden && x.State == "idle" && x.StateSeconds >= StaleIdleAfter.Seconds() && backendAge(x, now) >= PersistentAfter &&
			(sessionGroupKey{x.ApplicationName, x.Usename, x.Datname}) == k {
			n++
		}
	}
	return fmt.Sprintf("%s now holds %d idle sessions idle over %s on connections older than %s; a finding needs %d and %s of the %d usable slots",
		groupLabel(k), n, shortDuration(StaleIdleAfter), shortDuration(PersistentAfter), minPersistentSessions,
		PercentOf(minPersistentShare, 1), pg.Usable())
}

// sortFindings orders open findings by severity, keeping evaluation order
// within one severity, and cleared ones last.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if a.Cleared.IsZero() != b.Cleared.IsZero() {
			if a.Cleared.IsZero() {
				return -1
			}
			return 1
		}
		return SeverityRank(b.Severity) - SeverityRank(a.Severity)
	})
}
