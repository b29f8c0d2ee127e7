package collectors

import (
	"strings"
	"testing"
)

// The collectors are a library: their errors describe the value and what
// to do, and leave the CLI's flag names to the command that has them (the
// same target may come from a flag, the environment or the config file).
func TestConfigErrorsNameNoFlag(t *testing.T) {
	for _, cfg := range []Config{
		{PG: &PGConfig{DSN: "postgres://u:s3cret@[bad"}},
		{Redis: &RedisConfig{URL: "redis://u:s3cret@host:notaport/0"}},
		{Redis: &RedisConfig{URL: "redis+cluster://u:s3cret@a:1,,b:2"}},
		{Redis: &RedisConfig{URL: "redis+cluster://a:1/3"}},
		{PgBouncer: &PgBouncerConfig{DSN: "postgres://u:s3cret@[bad"}},
	} {
		err := cfg.Validate()
		if err == nil {
			t.Fatalf("Validate(%+v) accepted an invalid target", cfg)
		}
		if msg := err.Error(); strings.Contains(msg, "--") || strings.Contains(msg, "s3cret") {
			t.Errorf("Validate error %q names a CLI flag or the password", msg)
		}
	}
}
