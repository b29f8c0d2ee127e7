package charts

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func series(label string, values ...float64) Series {
	s := Series{Label: label}
	for i, v := range values {
		s.Points = append(s.Points, Point{At: t0.Add(time.Duration(i) * time.Minute), V: v})
	}
	return s
}

func TestTimeTicksAreRoundUTCClockTimes(t *testing.T) {
	for _, tc := range []struct {
		span  time.Duration
		first string
		step  time.Duration
	}{
		{4*time.Minute + 48*time.Second, "08:00:30", 30 * time.Second},
		{2 * time.Hour, "08:15", 15 * time.Minute},
		{8 * time.Hour, "09:00", time.Hour},
	} {
		from := t0.Add(7 * time.Second) // a recording starts at no round time
		ticks := timeTicks{from: from}.Ticks(0, tc.span.Seconds())
		var labels []string
		var prev float64 = -1
		for _, tk := range ticks {
			if tk.Label == "" {
				continue
			}
			at := from.Add(time.Duration(tk.Value * float64(time.Second))).UTC()
			if at.Truncate(tc.step) != at {
				t.Errorf("span %s: tick %s is not on a %s boundary", tc.span, tk.Label, tc.step)
			}
			if prev >= 0 && math.Abs(tk.Value-prev-tc.step.Seconds()) > 1e-6 {
				t.Errorf("span %s: ticks %v s apart, want %s", tc.span, tk.Value-prev, tc.step)
			}
			prev = tk.Value
			labels = append(labels, tk.Label)
		}
		if len(labels) < 3 || len(labels) > maxTimeTicks || labels[0] != tc.first {
			t.Errorf("span %s: labels %v, want 3 to %d starting %s", tc.span, labels, maxTimeTicks, tc.first)
		}
	}
}

func TestValueTicksAreWholeForCounts(t *testing.T) {
	for _, tk := range (valueTicks{whole: true}).Ticks(0, 3.4) {
		if tk.Value != math.Trunc(tk.Value) {
			t.Errorf("a count axis is ticked at %v", tk.Value)
		}
	}
	var labels []string
	for _, tk := range (valueTicks{}).Ticks(0, 0.7) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if strings.Join(labels, " ") != "0 0.2 0.4 0.6" {
		t.Errorf("seconds axis labels %v", labels)
	}
}

// The stack is drawn as running totals, and a gap in a layer is a gap in
// the total, not a dip to the layers below.
func TestStackIsCumulativeAndGapsStay(t *testing.T) {
	c := Chart{From: t0, To: t0.Add(4 * time.Minute), Stack: []Series{
		series("a", 1, 2, math.NaN(), 4, 5),
		series("b", 10, 10, math.NaN(), 10, 10),
	}}
	d := c.Drawn(DefaultSize())
	want := []float64{11, 12, math.NaN(), 14, 15}
	for i, p := range d.Stack[1].Points {
		if !(p.V == want[i] || math.IsNaN(p.V) && math.IsNaN(want[i])) {
			t.Fatalf("top of the stack at %d is %v, want %v", i, p.V, want[i])
		}
	}
	if got := len(segments(d.Stack[1], c.From)); got != 2 {
		t.Fatalf("the gap splits the layer into %d runs, want 2", got)
	}
}

func TestSVGDrawsEachRunOfSamplesApart(t *testing.T) {
	line := series("leaker", 1, 5, 9, math.NaN(), math.NaN(), 3, 4)
	c := Chart{Name: "t", Title: "Test chart", YLabel: "things", From: t0, To: t0.Add(6 * time.Minute), Lines: []Series{line},
		Bands:   []Band{{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute), Rule: "SomeRule", Firing: true}},
		Markers: []Marker{{At: t0.Add(4 * time.Minute), Label: "kim: terminate 23 idle of talentflow-web"}}}
	var buf bytes.Buffer
	if err := c.SVG(&buf, DefaultSize()); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&buf)
	paths, texts := 0, map[string]bool{}
	var inText bool
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			inText = e.Name.Local == "text"
			if e.Name.Local == "path" {
				for _, a := range e.Attr {
					// The leaker's colour, stroked: one path per run.
					if a.Name.Local == "style" && strings.Contains(a.Value, "stroke:#D55E00") && strings.Contains(a.Value, "stroke-width:2") {
						paths++
					}
				}
			}
		case xml.CharData:
			if inText {
				texts[strings.TrimSpace(string(e))] = true
			}
		case xml.EndElement:
			inText = false
		}
	}
	// Two runs in the plot plus the legend's sample.
	if paths != 3 {
		t.Errorf("%d stroked paths of the series, want 3 (two runs either side of the gap, one legend sample)", paths)
	}
	for _, want := range []string{"Test chart", "things", "leaker", "SomeRule", "alert firing", "1", "1  08:04:00  kim: terminate 23 idle of talentflow-web", "08:00", "08:06"} {
		if !texts[want] {
			t.Errorf("no text %q in the SVG", want)
		}
	}
}
