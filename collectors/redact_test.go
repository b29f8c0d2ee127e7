package collectors

import (
	"strings"
	"testing"
)

func TestRedactRemovesEveryPasswordForm(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:S3cret@db:5432/talentflow?sslmode=disable": "postgres://app:xxxxx@db:5432/talentflow?sslmode=disable",
		"postgres://app@db/talentflow?password=S3cret":             "postgres://app@db/talentflow?password=xxxxx",
		"host=db user=app password=S3cret dbname=talentflow":       "host=db user=app password=xxxxx dbname=talentflow",
		"host=db password='S3 cret\\'s' dbname=x":                  "host=db password=xxxxx dbname=x",
		"host=db PASSWORD = S3cret":                                "host=db PASSWORD = xxxxx",
		"redis://:S3cret@cache:6379/0":                             "redis://:xxxxx@cache:6379/0",
		"redis://default:S3cret@cache:6379/0":                      "redis://default:xxxxx@cache:6379/0",
		"rediss://cache:6380":                                      "rediss://cache:6380",
		"postgres://app:S3cret@db:bad port/x":                      "postgres://app:xxxxx@db:bad port/x",
	} {
		got := RedactDSN(in)
		if got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "S3") {
			t.Errorf("RedactDSN(%q) leaks the password: %q", in, got)
		}
	}
	if got := RedactURL("redis://u:p%40ss@h:1/2"); strings.Contains(got, "p%40ss") || strings.Contains(got, "p@ss") {
		t.Errorf("RedactURL leaks an escaped password: %q", got)
	}
}
