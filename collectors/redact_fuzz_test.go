package collectors

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// knownPasswords carry every character a parser trips on.
var knownPasswords = []string{"S3cr#t/P@ss w0rd", "hunter2XYZ", "p@ss:w/rd#1?x", "[::1pw"}

// dsnForms put a password where DSNs and URLs carry one.
func dsnForms(pw, prefix, suffix string) []string {
	kvQuoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
	return []string{
		"postgres://app:" + pw + "@" + prefix + "/" + suffix,
		"postgresql://app:" + pw + "@" + prefix + ":" + suffix + "/db",
		"redis://:" + pw + "@" + prefix + suffix,
		"rediss://default:" + url.PathEscape(pw) + "@" + prefix + ":" + suffix + "/0",
		"host=" + prefix + " password=" + pw + " " + suffix,
		"host=" + prefix + " password=" + kvQuoted + " " + suffix,
		"postgres://" + prefix + "/db?sslmode=disable&password=" + pw + "&" + suffix,
		"unix://:" + pw + "@" + prefix + suffix,
		"redis+cluster://:" + pw + "@" + prefix + "," + suffix,
		"rediss+cluster://u:" + url.PathEscape(pw) + "@" + prefix + ":" + suffix + ",h2:1/0",
	}
}

// secretForms are how a password may show in a message.
func secretForms(pw string) []string {
	return []string{pw, strings.Trim(strconv.Quote(pw), `"`), url.PathEscape(pw), url.QueryEscape(pw)}
}

func checkNoPassword(t *testing.T, raw, pw string) {
	t.Helper()
	var texts []string
	rc := newRedisCollector(RedisConfig{URL: raw})
	defer rc.shutdown()
	cc := newClusterCollector(RedisConfig{URL: raw, Cluster: true})
	defer cc.shutdown()
	texts = append(texts, RedactDSN(raw), RedactURL(raw), newEndpoint(raw).target, rc.target, cc.target, cc.seed,
		redisName(RedisConfig{URL: raw}), redisName(RedisConfig{URL: raw, Cluster: true}), pgName(PGConfig{DSN: raw}))
	for _, cfg := range []Config{
		{PG: &PGConfig{DSN: raw}}, {Probe: &ProbeConfig{DSN: raw}}, {Jobs: &JobsConfig{DSN: raw}}, {Redis: &RedisConfig{URL: raw}},
		{Redis: &RedisConfig{URL: raw, Cluster: true}}, {MoreRedis: []RedisConfig{{URL: raw}, {URL: raw}}},
		{PG: &PGConfig{DSN: raw}, MorePG: []PGConfig{{DSN: raw}}},
	} {
		if err := cfg.Validate(); err != nil {
			texts = append(texts, err.Error())
		}
	}
	for _, text := range texts {
		for _, form := range secretForms(pw) {
			if strings.Contains(text, form) {
				t.Fatalf("the password %q shows in %q (input %q)", form, text, raw)
			}
		}
	}
}

// plainPart keeps the fuzzed parts from turning the password into
// something else (a quoted host, another password= key).
func plainPart(s string) bool {
	return !strings.ContainsAny(s, `'\`) && !strings.Contains(strings.ToLower(s), "password")
}

func FuzzRedactErrors(f *testing.F) {
	for _, seed := range [][2]string{
		{"127.0.0.1", "db"}, {"127.0.0.1:notaport", "0"}, {"[::1", "db"}, {"", ""}, {"h1:5432,h2", "x?sslmode=bogus"},
		{"db.internal", "talentflow#frag"}, {"127.0.0.1", "99999"}, {"host with space", "db"}, {"%zz", "%"},
	} {
		for i := range knownPasswords {
			f.Add(seed[0], seed[1], uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, prefix, suffix string, which uint8) {
		if !plainPart(prefix) || !plainPart(suffix) {
			t.Skip()
		}
		pw := knownPasswords[int(which)%len(knownPasswords)]
		for _, raw := range dsnForms(pw, prefix, suffix) {
			checkNoPassword(t, raw, pw)
		}
	})
}

func TestRedactErrorsOfIssue8(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"postgres://app:se cret@127.0.0.1/db", `contains " "`},
		{"redis://:se#cret@127.0.0.1/0", `contains "#"`},
		{"postgres://app:se@cret@127.0.0.1/db", `contains "@"`},
		{"postgres://app:se/cret@127.0.0.1/db", `contains "/"`},
		{"redis://:secretpw@127.0.0.1:notaport/0", `the port "notaport" of host "127.0.0.1"`},
		{"postgres://app:secretpw@[::1/db", `the IPv6 address "[::1" lacks its closing ']'`},
	} {
		cfg := Config{PG: &PGConfig{DSN: tc.raw}}
		if strings.HasPrefix(tc.raw, "redis") {
			cfg = Config{Redis: &RedisConfig{URL: tc.raw}}
		}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "cret") || strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Validate(%s) = %v; want %s, and no part of the password", RedactDSN(tc.raw), err, tc.want)
		}
	}
}

func TestEmptyHostNamesTheServer(t *testing.T) {
	t.Setenv("PGHOST", "")
	ep := newEndpoint("postgres:///talentflow")
	if !strings.HasSuffix(ep.target, "/talentflow (local socket, from an empty host)") && !strings.HasSuffix(ep.target, "/talentflow (default host, from an empty host)") {
		t.Errorf("an empty host shows as %q; want the server it falls back to, said so", ep.target)
	}
	if ep := newEndpoint("postgres://db.internal:5433/x"); ep.target != "db.internal:5433/x" {
		t.Errorf("target = %q", ep.target)
	}
	if ep := newEndpoint("host=/tmp port=5432 dbname=x"); ep.target != "/tmp:5432/x" {
		t.Errorf("socket target = %q", ep.target)
	}
}
