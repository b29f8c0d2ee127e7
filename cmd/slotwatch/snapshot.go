package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/termtext"
)

// snapshotOutput is the JSON contract of `slotwatch snapshot --json`: the
// snapshot plus the alerts and findings of one evaluation.
type snapshotOutput struct {
	collectors.Snapshot
	Alerts   []analysis.Alert   `json:"alerts"`
	Findings []analysis.Finding `json:"findings"`
}

func runSnapshot(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "snapshot")
	var targets targetFlags
	targets.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object (the documented snapshot contract)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "slotwatch: snapshot takes no arguments, got %q; run `slotwatch snapshot --help`.\n", fs.Arg(0))
		return exitUsage
	}
	s, cfg, code, done := targets.collect(env)
	if done {
		return code
	}
	snap := collectors.CollectOnce(ctx, cfg)
	alerts, findings := analysis.OnceWith(s.rules, snap)
	var err error
	if *asJSON {
		err = writeSnapshotJSON(env.stdout, snapshotOutput{Snapshot: snap, Alerts: alerts, Findings: findings})
	} else {
		err = writeSnapshotText(env.text(), snap, alerts, findings)
	}
	if err != nil {
		errorSentence(env, fmt.Errorf("cannot write the snapshot: %w", err))
		return exitError
	}
	failed := failedSources(snap)
	var said []string
	for _, name := range failed {
		// The probe and jobs dial the PostgreSQL target too: one refused
		// password is one sentence, not one per source ("the connect
		// probe: <the same sentence>").
		msg := snap.Source(name).Err
		if slices.ContainsFunc(said, func(s string) bool { return strings.HasSuffix(msg, s) }) {
			continue
		}
		said = append(said, msg)
		fmt.Fprintf(env.stderr, "slotwatch: %s\n", msg)
	}
	// The primaries' errors are their sources'; the other servers' only here.
	down := 0
	for _, srv := range snap.Servers {
		if srv.Error != "" && !srv.Primary {
			fmt.Fprintf(env.stderr, "slotwatch: server %s: %s\n", srv.Name, srv.Error)
			down++
		}
	}
	if len(failed) > 0 || down > 0 {
		return exitError
	}
	return exitOK
}

// failedSources lists the sources whose sample failed, in a stable order.
// The default jobs query on a database without the TalentFlow tables is not
// a failure: the user never asked for it (its error stays in the output).
func failedSources(s collectors.Snapshot) []string {
	var failed []string
	for _, name := range collectors.SourceNames() {
		if s.Source(name).Err != "" {
			failed = append(failed, name)
		}
	}
	return failed
}

func writeSnapshotJSON(w io.Writer, out snapshotOutput) error {
	if out.Alerts == nil {
		out.Alerts = []analysis.Alert{}
	}
	if out.Findings == nil {
		out.Findings = []analysis.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// snapTopGroups is how many groups the text summary lists per source.
const snapTopGroups = 10

func writeSnapshotText(w io.Writer, s collectors.Snapshot, alerts []analysis.Alert, findings []analysis.Finding) error {
	var b strings.Builder
	fmt.Fprintf(&b, "slotwatch snapshot at %s\n", s.TakenAt.UTC().Format(time.RFC3339))
	if pg := s.Postgres; pg != nil {
		writePGText(&b, pg, s.Source(collectors.SourcePostgres).Err, "PostgreSQL")
	}
	if pr := s.Probe; pr != nil {
		writeProbeText(&b, pr)
	}
	if r := s.Redis; r != nil {
		writeRedisText(&b, r, s.Source(collectors.SourceRedis).Err, "Redis")
	}
	if j := s.Jobs; j != nil {
		writeJobsText(&b, j, s.Source(collectors.SourceJobs).Err)
	}
	// A source that never answered has no data, only its error.
	for _, name := range failedSources(s) {
		if src := s.Source(name); !src.Present && name != collectors.SourceProbe {
			fmt.Fprintf(&b, "\n%s: no data: %s\n", name, src.Err)
		}
	}
	writeServersText(&b, s.Servers)
	writeAnalysisText(&b, alerts, findings)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeServersText lists the servers beside the primaries (printed above)
// when several are configured: a line for the fleet, then each other
// server's section as the primary's.
func writeServersText(b *strings.Builder, servers []collectors.ServerSnapshot) {
	if len(servers) == 0 {
		return
	}
	names := make([]string, len(servers))
	for i, srv := range servers {
		names[i] = srv.Name
		if srv.Primary {
			names[i] += " (primary " + kindNoun(srv.Kind) + ")"
		}
	}
	fmt.Fprintf(b, "\nServers: %s\n", strings.Join(names, ", "))
	for _, srv := range servers {
		if srv.Primary {
			continue
		}
		switch {
		case srv.Kind == collectors.SourcePostgres && srv.Postgres != nil:
			writePGText(b, srv.Postgres, srv.Error, "PostgreSQL "+srv.Name+":")
		case srv.Kind == collectors.SourceRedis && srv.Redis != nil:
			writeRedisText(b, srv.Redis, srv.Error, "Redis "+srv.Name+":")
		default:
			fmt.Fprintf(b, "\n%s %s: no data: %s\n", kindNoun(srv.Kind), srv.Name, srv.Error)
		}
	}
}

func writePGText(b *strings.Builder, pg *collectors.PGStats, errText, heading string) {
	if !writeSourceHeading(b, heading, pg.Target, pg.ServerVersion, errText, pg.LastGoodAt) {
		return
	}
	fmt.Fprintf(b, "  slots used: %d of %d usable: %d client sessions and %d of slotwatch's own (max_connections %d, superuser_reserved_connections %d, reserved_connections %d)\n",
		pg.Used(), pg.Usable(), pg.Total, pg.OwnConnections, pg.MaxConnections, pg.SuperuserReservedConnections, pg.ReservedConnections)
	fmt.Fprintf(b, "  by state: %s\n", snapCounts(pg.ByState))
	fmt.Fprintf(b, "  waiting on a lock: %d\n", pg.Waiting)
	if len(pg.Groups) == 0 {
		return
	}
	b.WriteString("  groups (largest first):\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    TOTAL\tBY STATE\tOLDEST IDLE\tAPPLICATION\tUSER\tCLIENT\tDATABASE")
	for _, g := range pg.Groups[:min(len(pg.Groups), snapTopGroups)] {
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Total, snapCounts(g.ByState),
			snapSeconds(g.OldestIdleSeconds), snapDash(g.ApplicationName), snapDash(g.Usename), snapDash(g.ClientAddr), snapDash(g.Datname))
	}
	_ = tw.Flush()
	if n := len(pg.Groups) - snapTopGroups; n > 0 {
		fmt.Fprintf(b, "    ... and %d more groups (see --json)\n", n)
	}
}

// writeSourceHeading names a source and, when its latest sample failed, the
// error and the time of the last good sample. It reports whether there is
// data to print below it.
func writeSourceHeading(b *strings.Builder, kind, target, version, errText string, lastGood time.Time) bool {
	fmt.Fprintf(b, "\n%s %s", kind, target)
	if version != "" {
		fmt.Fprintf(b, " (version %s)", version)
	}
	b.WriteString("\n")
	if errText == "" {
		return true
	}
	fmt.Fprintf(b, "  error: %s\n", errText)
	if lastGood.IsZero() {
		return false
	}
	fmt.Fprintf(b, "  last good sample at %s:\n", lastGood.UTC().Format(time.RFC3339))
	return true
}

func writeProbeText(b *strings.Builder, pr *collectors.ProbeResult) {
	if pr.OK {
		fmt.Fprintf(b, "\nConnect probe: connected in %.1f ms\n", pr.ConnectMS)
		return
	}
	if pr.SQLState != "" {
		fmt.Fprintf(b, "\nConnect probe: REFUSED after %.1f ms: %s (SQLSTATE %s)\n", pr.ConnectMS, pr.Error, pr.SQLState)
		return
	}
	fmt.Fprintf(b, "\nConnect probe: FAILED after %.1f ms: %s\n", pr.ConnectMS, pr.Error)
}

func writeRedisText(b *strings.Builder, r *collectors.RedisStats, errText, heading string) {
	if !writeSourceHeading(b, heading, r.Target, r.ServerVersion, errText, r.LastGoodAt) {
		return
	}
	fmt.Fprintf(b, "  connected clients: %d of maxclients %d (blocked %d, rejected connections %d, connections received %d)\n",
		r.ConnectedClients, r.MaxClients, r.BlockedClients, r.RejectedConnections, r.TotalConnectionsReceived)
	if len(r.Groups) == 0 {
		return
	}
	b.WriteString("  client groups (largest first; digits in names folded to #):\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    COUNT\tMAX IDLE\tOLDEST\tHOST\tNAME\tLIBRARY")
	for _, g := range r.Groups[:min(len(r.Groups), snapTopGroups)] {
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\t%s\t%s\n", g.Count, snapSeconds(float64(g.MaxIdleSeconds)),
			snapSeconds(float64(g.OldestAgeSeconds)), snapDash(g.Host), snapDash(g.Name), snapDash(g.LibName))
	}
	_ = tw.Flush()
	if n := len(r.Groups) - snapTopGroups; n > 0 {
		fmt.Fprintf(b, "    ... and %d more groups (see --json)\n", n)
	}
}

func writeJobsText(b *strings.Builder, j *collectors.JobsStats, errText string) {
	b.WriteString("\nJob capacity\n")
	if errText != "" {
		fmt.Fprintf(b, "  error: %s\n", errText)
		return
	}
	if len(j.OverCapacity) == 0 {
		b.WriteString("  no job over its limit\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tCOUNT\tLIMIT\tEXCESS\tLABEL")
	for _, r := range j.OverCapacity {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t+%d\t%s\n", r.ID, r.Count, r.Limit, r.Excess, r.Label)
	}
	_ = tw.Flush()
}

func writeAnalysisText(b *strings.Builder, alerts []analysis.Alert, findings []analysis.Finding) {
	var active []analysis.Alert
	for _, a := range alerts {
		if a.State == analysis.Pending || a.State == analysis.Firing {
			active = append(active, a)
		}
	}
	if len(active) > 0 {
		b.WriteString("\nAlerts\n")
		for _, a := range active {
			fmt.Fprintf(b, "  %s %s%s: %s\n", a.State, a.Name, onServer(a.Server), a.Summary)
		}
	}
	if len(findings) > 0 {
		b.WriteString("\nFindings\n")
		for _, f := range findings {
			fmt.Fprintf(b, "  [%s] %s", f.Severity, f.Title)
			if f.About != "" {
				fmt.Fprintf(b, " (%s)", f.About)
			}
			b.WriteString(onServer(f.Server))
			b.WriteString("\n")
		}
	}
}

// formatCounts prints a state map largest first: "idle 37, active 3".
func snapCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func snapSeconds(s float64) string {
	if s <= 0 {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// snapDash is a table cell of server text: a dash when empty, one line.
func snapDash(s string) string {
	if s == "" {
		return "-"
	}
	return termtext.OneLine(s)
}

// onServer is " on NAME" for an alert or finding of one server of
// several, "" for a single target.
func onServer(name string) string {
	if name == "" {
		return ""
	}
	return " on " + name
}
