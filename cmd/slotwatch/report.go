package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/recording"
	"github.com/slotwatch/slotwatch/report"
)

func runReport(_ context.Context, env *environment, args []string) int {
	flags := newFlagSet(env, "report")
	var targets targetFlags
	flags.StringVar(&targets.configPath, "config", "", "YAML config file: its alerts overrides and audit_log (default $XDG_CONFIG_HOME/slotwatch/config.yaml when present)")
	auditPath := flags.String("audit", "", "audit log whose actions the report lists (default: the configured audit log, when it exists)")
	out := flags.String("out", "", "write the Markdown to this new file instead of stdout, and its charts beside it as SVG files it links")
	htmlOut := flags.String("html", "", "also write the report as one self-contained HTML page (charts inline) to this new file")
	// The recording may come before or after the flags: `report FILE
	// --audit A` reads as naturally as `report --audit A FILE`.
	files, code, done := parseFlagsInterspersed(flags, args)
	if done {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintf(env.stderr, "slotwatch: report needs exactly one recording file, got %d; run `slotwatch report --help`.\n", len(files))
		return exitUsage
	}
	file := files[0]
	s, err := targets.resolve(env)
	if err != nil {
		errorSentence(env, err)
		return exitUsage
	}
	opts := report.Options{Recording: file, Rules: s.rules}
	var audit []actions.AuditEntry
	if path := auditLogFor(*auditPath, s); path != "" {
		if audit, err = readAudit(path); err != nil {
			errorSentence(env, err)
			return exitError
		}
		opts.AuditSource = path
	}
	if *out == "" && *htmlOut == "" {
		return reportToStdout(env, file, audit, opts)
	}
	stem := report.Stem(*out)
	if *out == "" {
		stem = report.Stem(*htmlOut)
	}
	doc, bad, err := report.BuildDocument(file, audit, opts, stem, *out != "", report.ChartSize())
	warnBadLines(env, file, bad)
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	written, err := reportFiles(doc, *out, *htmlOut)
	if err == nil {
		err = writeNewFiles(written)
	}
	if err == nil && *out == "" {
		_, err = env.text().Write(doc.Markdown)
	}
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	for _, f := range written {
		fmt.Fprintf(env.stderr, "slotwatch: wrote %s to %s\n", f.what, f.path)
	}
	return exitOK
}

// reportToStdout writes the Markdown alone: charts beside no file would be
// links to nothing, so none are drawn.
func reportToStdout(env *environment, file string, audit []actions.AuditEntry, opts report.Options) int {
	var md bytes.Buffer
	bad, err := report.FromFile(&md, file, audit, opts)
	warnBadLines(env, file, bad)
	if err == nil {
		_, err = env.text().Write(md.Bytes())
	}
	if err != nil {
		errorSentence(env, err)
		return exitError
	}
	return exitOK
}

// auditLogFor picks the audit log to list: the one given, else the
// configured (or default) one if it exists, so actions taken from the
// dashboard appear without extra flags.
func auditLogFor(given string, s *settings) string {
	if given != "" {
		return given
	}
	if _, err := os.Stat(s.AuditLog); err == nil {
		return s.AuditLog
	}
	return ""
}

func readAudit(path string) ([]actions.AuditEntry, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cannot read the audit log %s: %w; check the path given to --audit", path, err)
	}
	return actions.ReadAuditLog(path)
}

func warnBadLines(env *environment, file string, bad []recording.LineError) {
	if len(bad) == 0 {
		return
	}
	fmt.Fprintf(env.stderr, "slotwatch: skipped %d unreadable line(s) of %s:\n", len(bad), file)
	for i, b := range bad {
		if i == 5 {
			fmt.Fprintf(env.stderr, "  … and %d more\n", len(bad)-5)
			break
		}
		fmt.Fprintf(env.stderr, "  %v\n", b)
	}
}

type outFile struct {
	path, what string
	data       []byte
}

// reportFiles are the files --out and --html ask for: the Markdown and its
// charts in the Markdown's directory, and the HTML page.
func reportFiles(doc *report.Document, out, htmlOut string) ([]outFile, error) {
	var files []outFile
	if out != "" {
		files = append(files, outFile{out, "the postmortem draft", doc.Markdown})
		for _, c := range doc.Charts {
			files = append(files, outFile{filepath.Join(filepath.Dir(out), c.File), "a chart", c.SVG})
		}
	}
	if htmlOut != "" {
		page, err := doc.HTML()
		if err != nil {
			return nil, err
		}
		files = append(files, outFile{htmlOut, "the HTML page", page})
	}
	return files, nil
}

// writeNewFiles writes none of the files if any exists already.
func writeNewFiles(files []outFile) error {
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return fmt.Errorf("%s already exists; choose another --out or --html name or remove it first", f.path)
		}
	}
	for _, f := range files {
		if err := writeNewFile(f.path, f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeNewFile never overwrites: a draft someone has started editing must
// not be replaced by a fresh one.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; choose another --out name or remove it first", path)
	}
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
