package main

import "testing"

func TestConsoleProcessors(t *testing.T) {
	unset := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  func(string) string
		want int
	}{
		{nil, unset, 1}, // no command: watch
		{[]string{"--pg", "postgres://x"}, unset, 1},
		{[]string{"watch"}, unset, 1},
		{[]string{"demo"}, unset, 1},
		{[]string{"replay", "rec.jsonl"}, unset, 1},
		{[]string{"serve"}, unset, 0},
		{[]string{"terminate", "--idle-over", "10m"}, unset, 0},
		{[]string{"watch"}, func(k string) string {
			if k == "GOMAXPROCS" {
				return "4"
			}
			return ""
		}, 0},
	} {
		if got := consoleProcessors(c.args, c.env); got != c.want {
			t.Errorf("consoleProcessors(%q) = %d, want %d", c.args, got, c.want)
		}
	}
}
