package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPagesHaveEveryFlag: slotwatch(1) names every command and its page;
// each command's page has its synopsis and every flag its --help lists.
func TestManPagesHaveEveryFlag(t *testing.T) {
	pages := map[string]string{}
	for _, p := range manPages(buildInfo{Version: "v1.0.0", Time: "2026-12-07T09:00:00Z"}) {
		pages[p.name] = p.text
	}
	main := pages["slotwatch.1"]
	if !strings.Contains(main, `.TH SLOTWATCH 1 "2026-12-07" "slotwatch v1.0.0"`) {
		t.Errorf("slotwatch.1 header: %.200s", main)
	}
	for _, c := range commands() {
		page, ok := pages["slotwatch-"+c.name+".1"]
		if !ok {
			t.Errorf("no page for %s", c.name)
			continue
		}
		if !strings.Contains(main, `\fB`+roffText(c.name)+`\fR`) || !strings.Contains(main, roffText("slotwatch-"+c.name+"(1)")) {
			t.Errorf("slotwatch.1 does not list %s", c.name)
		}
		if !strings.Contains(page, ".SH SYNOPSIS\n") || !strings.Contains(page, roffText(c.summary)) {
			t.Errorf("%s: no synopsis or summary", c.name)
		}
		_, help, _ := runQuiet(t, c.name, "--help")
		for _, name := range helpFlags(help) {
			if !strings.Contains(page, `.TP`+"\n"+`\fB`+roffText("--"+name)+`\fR`) {
				t.Errorf("slotwatch-%s.1 does not document --%s", c.name, name)
			}
		}
	}
	if len(pages) != len(commands())+1 {
		t.Errorf("%d pages for %d commands", len(pages), len(commands()))
	}
}

func TestRoffText(t *testing.T) {
	for in, want := range map[string]string{
		"--pg DSN":           `\-\-pg DSN`,
		`C:\path`:            `C:\epath`,
		"SELECT … FOR":       "SELECT ... FOR",
		"←/→ one minute":     `\[u2190]/\[u2192] one minute`,
		".starts with a dot": `\&.starts with a dot`,
	} {
		if got := roffLine(roffText(in)); got != want {
			t.Errorf("roff(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestManCommandWritesPages runs the hidden man command and, when man-db
// is installed, renders every page with man -l: no warnings.
func TestManCommandWritesPages(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runQuiet(t, "man", "--dir", dir); code != exitOK {
		t.Fatalf("man --dir: exit %d %q", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(files) != len(commands())+1 {
		t.Fatalf("wrote %d pages: %v", len(files), files)
	}
	if code, _, _ := runQuiet(t, "man"); code != exitUsage {
		t.Errorf("man without --dir: exit %d", code)
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man (Debian package man-db) is not installed: pages written, not rendered")
	}
	for _, f := range files {
		cmd := exec.Command("man", "--warnings", "-l", f)
		cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "MANWIDTH=80")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || !bytes.Contains(out, []byte("NAME")) {
			t.Errorf("man -l %s: %v %s", filepath.Base(f), err, stderr.String())
		}
	}
}
