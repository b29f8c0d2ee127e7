package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLibpqEnvironmentIsATarget(t *testing.T) {
	home := t.TempDir()
	s, err := (&targetFlags{}).resolve(envFrom(map[string]string{"HOME": home, "PGHOST": "db.internal", "PGPORT": "6432", "PGUSER": "on call", "PGDATABASE": "talentflow", "PGPASSWORD": "hunter2"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "host=db.internal port=6432 user='on call' dbname=talentflow"; s.PG != want {
		t.Errorf("PG* target %q, want %q (no password copied)", s.PG, want)
	}
	s, err = (&targetFlags{}).resolve(envFrom(map[string]string{"HOME": home, "PGHOST": "db.internal", "DATABASE_URL": "postgres://app@other/app"}))
	if err != nil || s.PG != "postgres://app@other/app" {
		t.Errorf("DATABASE_URL must beat PG*: %q %v", s.PG, err)
	}
	if s, err = (&targetFlags{}).resolve(envFrom(map[string]string{"HOME": home})); err != nil || s.PG != "" {
		t.Errorf("no PG* variable must mean no target: %q %v", s.PG, err)
	}
	code, _, errOut := runQuietEnv(t, map[string]string{"PGPORT": "99999"}, "snapshot")
	if code != exitUsage || !strings.Contains(errOut, "PGPORT 99999 is out of range (1 to 65535)") {
		t.Errorf("PGPORT 99999: exit %d %q", code, errOut)
	}
}

// testLibpqEnv: with only PGHOST, PGPORT, PGUSER and PGDATABASE set, as
// for psql, snapshot and terminate reach the server.
func (m *mitigationServers) testLibpqEnv(t *testing.T) {
	vars := map[string]string{"PGHOST": m.pg.Host, "PGPORT": strconv.Itoa(m.pg.Port), "PGUSER": "postgres", "PGDATABASE": "talentflow"}
	code, out, errOut := runQuietEnv(t, vars, "snapshot", "--json")
	var snap struct {
		Postgres *struct {
			Target        string `json:"target"`
			ServerVersion string `json:"server_version"`
		} `json:"postgres"`
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil || snap.Postgres == nil {
		t.Fatalf("snapshot with PG* only: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	if want := m.pg.Host + ":" + strconv.Itoa(m.pg.Port) + "/talentflow"; snap.Postgres.Target != want || snap.Postgres.ServerVersion == "" {
		t.Errorf("target %q version %q, want %q", snap.Postgres.Target, snap.Postgres.ServerVersion, want)
	}
	vars["HOME"] = t.TempDir()
	code, out, errOut = runQuietEnv(t, vars, "terminate", "--app", "no-such-app")
	if code != exitOK || !strings.Contains(errOut, "no session matches") || !strings.Contains(out, "/talentflow") {
		t.Errorf("terminate with PG* only: exit %d\n%s\n%s", code, out, errOut)
	}
}

func runQuietEnv(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	if vars["HOME"] == "" {
		vars["HOME"] = t.TempDir()
	}
	var stdout, stderr bytes.Buffer
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: envFrom(vars).getenv}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return run(ctx, env, args), stdout.String(), stderr.String()
}
