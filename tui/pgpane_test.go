package tui

import (
	"testing"

	"github.com/slotwatch/slotwatch/collectors"
)

func TestNarrowGroupsKeepTheColumnThatTellsThemApart(t *testing.T) {
	groups := []collectors.SessionGroup{
		{ApplicationName: "talentflow-web", Usename: "talentflow", ClientAddr: "10.0.3.37", Datname: "talentflow", Total: 24},
		{ApplicationName: "talentflow-web", Usename: "talentflow", ClientAddr: "10.0.3.19", Datname: "talentflow", Total: 23},
	}
	cols := groupColumnsFor(groups)
	idx, _ := fitColumns(cols, 26, 14)
	var kept []string
	for _, i := range idx {
		kept = append(kept, cols[i].title)
	}
	if len(kept) == 0 || kept[0] != "CLIENT" {
		t.Fatalf("at 26 cells the kept columns are %v; want CLIENT first, since every group shares the application", kept)
	}
	for _, title := range kept {
		if title == "APPLICATION" {
			t.Fatalf("the shared application column should go before the distinguishing one: %v", kept)
		}
	}

	// With different applications the application column stays the one that grows.
	groups[1].ApplicationName = "talentflow-worker"
	cols = groupColumnsFor(groups)
	idx, _ = fitColumns(cols, 26, 14)
	if cols[idx[0]].title != "APPLICATION" {
		t.Fatalf("with different applications the first kept column is %q, want APPLICATION", cols[idx[0]].title)
	}
}
