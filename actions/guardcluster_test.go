package actions

import (
	"strings"
	"testing"
)

func sp(s string) *string { return &s }

// TestRevertNodes: revert restores each node's recorded previous value; a
// node that joined since stays as it is, one that left is named, one
// changed by someone else is overwritten with a note; a change recorded on
// a cluster cannot be reverted on a single server.
func TestRevertNodes(t *testing.T) {
	set := AuditEntry{ActionID: "set-1", Previous: sp("differs per node (a=0, b=7, c=0)"), New: sp("300"), Nodes: []GuardNode{
		{Node: "a", Current: sp("0"), New: sp("300")},
		{Node: "b", Current: sp("7"), New: sp("300")},
		{Node: "c", Current: sp("0"), New: sp("300")},
	}}
	plan := GuardPlan{Server: "a,b,c (cluster)", Nodes: []GuardNode{
		{Node: "a", Current: sp("300")},
		{Node: "b", Current: sp("60")},  // changed by hand since
		{Node: "d", Current: sp("300")}, // joined since
	}}
	notes, err := revertNodes(&plan, set)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range plan.Nodes {
		got[n.Node] = show(n.New)
	}
	if got["a"] != "0" || got["b"] != "7" || got["d"] != "300" {
		t.Fatalf("revert values %v", got)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"node b is now at 60, not the 300 slotwatch set", "node d was not part of the change", "node c of the change being reverted is no longer in the cluster"} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
	if !strings.Contains(show(plan.New), "differs per node") {
		t.Errorf("plan.New %s", show(plan.New))
	}
	if _, err := revertNodes(&GuardPlan{Server: "a:1/0"}, set); err == nil {
		t.Error("reverted a cluster change on a single server")
	}
}

// TestNodesChanged: a plan no longer fits when a node joined or left, or a
// node's value changed since the preview.
func TestNodesChanged(t *testing.T) {
	planned := []GuardNode{{Node: "a", Current: sp("0")}, {Node: "b", Current: sp("0")}}
	for name, tc := range map[string]struct {
		fresh []GuardNode
		want  string
	}{
		"same":          {planned, ""},
		"value":         {[]GuardNode{{Node: "a", Current: sp("0")}, {Node: "b", Current: sp("5")}}, "the value on node b changed"},
		"node left":     {planned[:1], "the cluster's nodes changed"},
		"not a cluster": {nil, "now none"},
	} {
		if got := nodesChanged(tc.fresh, planned); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
