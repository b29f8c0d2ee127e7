package tui

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
)

// Golden views of the TalentFlow incident at fixed sizes, Ascii profile and
// a fixed clock. Update with: go test ./tui -run TestGolden -update
func TestGoldenIncident(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, Options{Mode: ModeDemo, Title: "talentflow", Mitigator: &fakeMitigator{}},
				incidentFrame(t), size[0], size[1])
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}
