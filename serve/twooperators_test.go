package serve

import (
	"regexp"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
)

// TestTwoOperatorsActAtOnce: kim and sam both preview the same terminate
// over SSH and confirm one after the other. Every screen, a viewer's at
// 120 columns too, hears both: kim's count, and sam told that kim had
// already ended them, neither replacing the other; the serve log has a
// line per login with the key's fingerprint and address.
func TestTwoOperatorsActAtOnce(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 0, "kim", "sam", "marcus")
	kim := ts.connect("kim", 160, 45, true)
	sam := ts.connect("sam", 160, 45, true)
	marcus := ts.connect("marcus", 120, 40, true)
	for _, c := range []*client{kim, sam, marcus} {
		c.waitFor("talentflow-web", "PG ")
	}
	waitPresence(t, ts.srv, []string{"kim (operator)", "sam (operator)", "marcus"})
	for _, name := range []string{"kim", "sam", "marcus"} {
		if !ts.log.has(name, "connected from 127.0.0.1 with key SHA256:") {
			t.Errorf("the serve log has no login line for %s with its address and key", name)
		}
	}

	for _, c := range []*client{kim, sam} {
		c.keys("i") // idle sessions only
		c.waitFor("state=idle")
		c.keys("G")
		c.waitFor("CONFIRM TERMINATE", "Press y")
	}
	kim.keys("y")
	waitAudit(t, ts.audit, func(e actions.AuditEntry) bool {
		return e.Phase == actions.PhaseResult && e.Operator.User == "kim"
	})
	sam.keys("y")
	waitAudit(t, ts.audit, func(e actions.AuditEntry) bool {
		return e.Phase == actions.PhaseResult && e.Operator.User == "sam"
	})

	kimSaid := regexp.MustCompile(`kim terminated \d+ sessions? of talentflow-web`)
	samSaid := regexp.MustCompile(`sam: \d+ already terminated by kim`)
	for _, c := range []*client{kim, sam, marcus} {
		c.waitForMatch(kimSaid)
		c.waitForMatch(samSaid)
	}
}

// waitForMatch polls the session's output until re matches it.
func (c *client) waitForMatch(re *regexp.Regexp) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !re.MatchString(c.out.text()) {
		if time.Now().After(deadline) {
			screen := c.out.text()
			c.t.Fatalf("the session never showed %s; its output ends:\n%s", re, screen[max(0, len(screen)-3000):])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
