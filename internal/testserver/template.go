package testserver

import (
	"path/filepath"
	"testing"
)

// InitTemplate runs initdb once into a directory removed at cleanup and
// returns the data directory, for PGOptions.Template: a test that starts
// many servers copies it instead of running initdb for each.
func InitTemplate(t testing.TB, bin string) string {
	t.Helper()
	if bin == "" {
		var err error
		if bin, err = postgresBinDir(); err != nil {
			Missing(t, "PostgreSQL (initdb, pg_ctl; or set SLOTWATCH_TEST_PGBIN)", "postgresql")
		}
	}
	dir := serverDir(t, "slotwatch-pgtemplate-")
	data := filepath.Join(dir, "data")
	runAs := postgresRunner(t, dir)
	if out, err := runAs(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		t.Fatalf("initdb failed: %v\n%s", err, out)
	}
	return data
}
