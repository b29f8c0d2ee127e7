package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestConnectionErrorsAreOneSentence runs the real binary against a server
// that refuses a password and one that is not there, with sslmode=prefer
// (libpq's default), whose refused TLS attempt must not lead the message.
func TestConnectionErrorsAreOneSentence(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{PasswordRole: "app"})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN PASSWORD 'right-one'")
	bin := buildSlotwatch(t)
	slotwatch := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + t.TempDir()}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	wrong := fmt.Sprintf("postgres://app:wrong-one@%s:%d/postgres", pg.Host, pg.Port)
	code, errOut := slotwatch("guard", "show", "--pg", wrong)
	want := fmt.Sprintf("slotwatch: the password for user app was refused by %s:%d; check the password in the DSN, PGPASSWORD or ~/.pgpass (SQLSTATE 28P01)\n", pg.Host, pg.Port)
	if code != exitError || errOut != want || strings.Contains(errOut, "wrong-one") {
		t.Errorf("wrong password: exit %d\n%q\nwant\n%q", code, errOut, want)
	}
	// The collectors (snapshot, watch) say it the same way.
	if code, errOut = slotwatch("snapshot", "--pg", wrong); code == exitOK || !strings.Contains(errOut, fmt.Sprintf("the password for user app was refused by %s:%d;", pg.Host, pg.Port)) || strings.Contains(errOut, "tls") || strings.Count(errOut, "was refused") != 1 {
		t.Errorf("snapshot, wrong password: exit %d %q; want the sentence once", code, errOut)
	}
	pg.Stop(t)
	code, errOut = slotwatch("guard", "show", "--pg", wrong)
	if code != exitError || strings.Count(errOut, "\n") != 1 || strings.Count(errOut, "connect: connection refused") != 1 || strings.Contains(errOut, "tls") {
		t.Errorf("dead server: exit %d %q; want one line naming the dial error once", code, errOut)
	}
}
