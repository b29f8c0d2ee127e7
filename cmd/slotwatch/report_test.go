package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/recording"
)

func writeTinyRecording(t *testing.T, path string) {
	t.Helper()
	w, err := recording.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 21, 15, 42, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		s := collectors.Snapshot{TakenAt: at.Add(time.Duration(i) * time.Second), Errors: map[string]string{},
			Postgres: &collectors.PGStats{Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, Target: "db:5432/app",
				MaxConnections: 100, SuperuserReservedConnections: 3, Total: 90 + i, ByState: map[string]int{"idle": 80 + i}}}
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "run.jsonl")
	writeTinyRecording(t, rec)
	ctx := context.Background()

	code, md, stderr := e2eRun(ctx, t, "report", rec)
	if code != exitOK || !strings.Contains(md, "| PostgreSQL connections used | 92 of 97 usable (95%), max_connections 100 | 15:42:02 | 92 |") ||
		!strings.Contains(md, "No audit log was found") {
		t.Fatalf("report exited %d: %s\n%s", code, stderr, md)
	}

	out := filepath.Join(dir, "report.md")
	audit := filepath.Join(dir, "audit.jsonl")
	if err := os.WriteFile(audit, []byte(`{"time":"2024-01-21T15:42:01Z","phase":"result","action":"terminate","predicate":"state=idle","operator":{"user":"sre"},"done":[1,2,3]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = e2eRun(ctx, t, "report", "--audit", audit, rec, "--out", out)
	if code != exitOK || !strings.Contains(stderr, "wrote the postmortem draft to") {
		t.Fatalf("report --out exited %d: %s", code, stderr)
	}
	written, _ := os.ReadFile(out)
	if !strings.Contains(string(written), "| 15:42:01 | sre | terminate | state=idle | 3 done |") {
		t.Fatalf("the audit entry is missing from the report:\n%s", written)
	}
	code, _, stderr = e2eRun(ctx, t, "report", rec, "--out", out)
	if code != exitError || !strings.Contains(stderr, "already exists") {
		t.Fatalf("report over an existing draft exited %d: %s", code, stderr)
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "run.jsonl")
	writeTinyRecording(t, rec)
	garbage := filepath.Join(dir, "garbage.jsonl")
	if err := os.WriteFile(garbage, []byte("not a snapshot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, exitUsage, "needs exactly one recording file, got 0"},
		{[]string{"report", rec, rec}, exitUsage, "needs exactly one recording file, got 2"},
		{[]string{"report", filepath.Join(dir, "missing.jsonl")}, exitError, "cannot open the recording"},
		{[]string{"report", garbage}, exitError, "holds no readable snapshot"},
		{[]string{"report", rec, "--audit", filepath.Join(dir, "missing-audit.jsonl")}, exitError, "cannot read the audit log"},
		{[]string{"record"}, exitUsage, "needs --out FILE"},
		{[]string{"record", "--out", filepath.Join(dir, "x.jsonl")}, exitUsage, "no server to watch"},
		{[]string{"drill", "--duration", "0s"}, exitUsage, "--duration 0s must be longer than 0"},
	} {
		code, _, stderr := e2eRun(ctx, t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v exited %d (want %d), stderr %q should mention %q", tc.args, code, tc.code, stderr, tc.want)
		}
	}
}

func TestReportWarnsAboutBadLines(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "cut.jsonl")
	writeTinyRecording(t, rec)
	f, err := os.OpenFile(rec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{not json}\n{\"taken_at\":\"2024-")
	f.Close()
	code, md, stderr := e2eRun(context.Background(), t, "report", rec)
	if code != exitOK || !strings.Contains(stderr, "skipped 2 unreadable line(s)") || !strings.Contains(stderr, "line 4: ") ||
		!strings.Contains(stderr, "line 5: ") || !strings.Contains(md, "(2 unreadable lines skipped)") {
		t.Fatalf("exit %d, stderr:\n%s\nreport:\n%.300s", code, stderr, md)
	}
}

// TestReportUsesTheConfig: the alert overrides of the config file shape the
// timeline as they shaped the dashboard, and the configured audit log is
// listed without --audit.
func TestReportUsesTheConfig(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "run.jsonl")
	writeTinyRecording(t, rec)
	audit := filepath.Join(dir, "audit.jsonl")
	if err := os.WriteFile(audit, []byte(`{"time":"2024-01-21T15:42:01Z","phase":"result","action":"redis-kill","predicate":"name=cache-*","operator":{"user":"sre"},"done":[7]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code, md, stderr := e2eRun(ctx, t, "report", rec)
	if code != exitOK || !strings.Contains(md, "PostgresConnectionLimitReached: inactive → pending") {
		t.Fatalf("default rules: exit %d %s\n%s", code, stderr, md)
	}
	config := filepath.Join(dir, "slotwatch.yaml")
	if err := os.WriteFile(config, []byte("audit_log: "+audit+"\nalerts:\n  PostgresConnectionLimitReached: {disabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, md, stderr = e2eRun(ctx, t, "report", rec, "--config", config)
	if code != exitOK || strings.Contains(md, "PostgresConnectionLimitReached") || !strings.Contains(md, "| 15:42:01 | sre | redis-kill | name=cache-\\* | 1 done |") {
		t.Fatalf("with the config: exit %d %s\n%s", code, stderr, md)
	}
	if err := os.WriteFile(config, []byte("alerts:\n  NoSuchRule: {disabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr = e2eRun(ctx, t, "report", rec, "--config", config); code != exitUsage || !strings.Contains(stderr, "NoSuchRule") {
		t.Fatalf("an unknown rule must be a usage error naming it: exit %d %s", code, stderr)
	}
}

// TestDrillIgnoresEnvironmentTargets: DATABASE_URL may point at production;
// the drill must only ever use --pg (default: the local server).
func TestDrillIgnoresEnvironmentTargets(t *testing.T) {
	var stdout, stderr e2eBuffer
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		switch k {
		case "DATABASE_URL", "SLOTWATCH_PG":
			return "postgres://prod-user@prod-db.invalid:5432/talentflow"
		case "REDIS_URL", "SLOTWATCH_REDIS":
			return "redis://prod-cache.invalid:6379"
		}
		return ""
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, env, []string{"drill", "--pg", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "--no-redis", "--yes", "--duration", "1s"})
	if code != exitError || strings.Contains(stderr.String(), "prod") || !strings.Contains(stderr.String(), "127.0.0.1:1") {
		t.Fatalf("drill exited %d; stderr %q must name --pg's server, not the environment's", code, stderr.String())
	}
}

// --out writes the charts beside the Markdown, which links them by
// relative name; --html writes one page with them inline. Nothing is
// overwritten, and a clash writes no file at all.
func TestReportCommandCharts(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "run.jsonl")
	writeTinyRecording(t, rec)
	out, page := filepath.Join(dir, "pm", "draft.md"), filepath.Join(dir, "draft.html")
	if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code, stdout, stderr := e2eRun(ctx, t, "report", rec, "--out", out, "--html", page)
	if code != exitOK || stdout != "" {
		t.Fatalf("report --out --html exited %d: %s%s", code, stdout, stderr)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{"draft-slots.svg", "draft-groups.svg"} {
		svg, err := os.ReadFile(filepath.Join(filepath.Dir(out), chart))
		if err != nil || !strings.HasPrefix(string(svg), "<?xml") || !strings.Contains(string(svg), "PostgreSQL connection slots used") && chart == "draft-slots.svg" {
			t.Fatalf("chart %s beside the draft: %v\n%.200s", chart, err, svg)
		}
		if !strings.Contains(string(md), "]("+chart+")") {
			t.Errorf("the draft does not link %s by its relative name:\n%s", chart, md)
		}
		if !strings.Contains(stderr, "wrote a chart to "+filepath.Join(filepath.Dir(out), chart)) {
			t.Errorf("stderr does not name %s: %s", chart, stderr)
		}
	}
	html, err := os.ReadFile(page)
	if err != nil || strings.Count(string(html), "<svg") < 2 || strings.Contains(string(html), "<img") {
		t.Fatalf("the HTML page: %v, %d inline charts", err, strings.Count(string(html), "<svg"))
	}

	other := filepath.Join(dir, "pm", "other.md")
	if err := os.WriteFile(filepath.Join(dir, "pm", "other-slots.svg"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = e2eRun(ctx, t, "report", rec, "--out", other)
	if code != exitError || !strings.Contains(stderr, "other-slots.svg already exists") {
		t.Fatalf("a clashing chart file: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("the draft was written although one of its charts could not be")
	}

	code, stdout, _ = e2eRun(ctx, t, "report", rec, "--html", filepath.Join(dir, "only.html"))
	if code != exitOK || !strings.Contains(stdout, "# Postmortem draft") || strings.Contains(stdout, "## Charts") {
		t.Fatalf("--html alone: exit %d; the Markdown on stdout must not link chart files written nowhere:\n%s", code, stdout)
	}
	code, stdout, stderr = e2eRun(ctx, t, "report", rec, "--html", page)
	if code != exitError || stdout != "" || !strings.Contains(stderr, "draft.html already exists") {
		t.Fatalf("--html over an existing page: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}
