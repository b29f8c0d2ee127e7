package charts

import (
	"image/color"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Each layer's fill differs in lightness from its neighbours by a fifth
// of the scale or more (luma 15, 86, 187, 236, 130 from the bottom), so the
// stack still reads printed in grey; the legend lists them top first, as
// they lie, and each layer's top edge is outlined.
var stackFills = []color.Color{
	color.RGBA{R: 0x2d, G: 0x00, B: 0x4b, A: 0xff}, // dark violet
	color.RGBA{R: 0x1f, G: 0x5f, B: 0xa0, A: 0xff}, // blue
	color.RGBA{R: 0xf7, G: 0xb4, B: 0x56, A: 0xff}, // light orange
	color.RGBA{R: 0xe0, G: 0xf3, B: 0xd0, A: 0xff}, // pale green
	color.RGBA{R: 0x82, G: 0x82, B: 0x82, A: 0xff}, // mid grey
}

// Lines differ by dash pattern as well as colour (Okabe–Ito, safe for
// colour blindness), and each is labelled at its peak.
var (
	lineColors = []color.Color{
		color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
		color.RGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff},
		color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
		color.RGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
		color.RGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
		color.RGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
	}
	lineDashes = [][]vg.Length{
		nil,
		{vg.Points(7), vg.Points(3)},
		{vg.Points(2), vg.Points(2)},
		{vg.Points(7), vg.Points(2), vg.Points(2), vg.Points(2)},
		{vg.Points(4), vg.Points(4)},
		{vg.Points(1), vg.Points(4)},
	}
	limitDashes = [][]vg.Length{
		{vg.Points(10), vg.Points(4)},
		{vg.Points(3), vg.Points(3)},
		{vg.Points(10), vg.Points(3), vg.Points(2), vg.Points(3)},
	}
	pendingFill = color.RGBA{R: 0xfe, G: 0xe0, B: 0xb6, A: 0xff}
	firingFill  = color.RGBA{R: 0xf4, G: 0x8a, B: 0x7c, A: 0xff}
)

// addOutages shades each outage below the alert lanes and names it when
// there is room: a break in a line alone is easy to miss in hours of data.
func (c Chart) addOutages(p *plot.Plot, legend *plot.Legend, below, pointsPerX float64) {
	for i, o := range c.Outages {
		x0, x1 := seconds(c.From, o.From), seconds(c.From, o.To)
		x1 = math.Max(x1, x0+2/pointsPerX) // one snapshot is still two points wide
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: below}, {X: x0, Y: below}})
		if err != nil {
			continue
		}
		poly.Color = color.Gray{Y: 240}
		poly.LineStyle = draw.LineStyle{Color: color.Gray{Y: 120}, Width: vg.Points(0.5), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
		add(p, poly)
		if (x1-x0)*pointsPerX >= smallFont+2 {
			ls := textStyle(smallFont)
			ls.Rotation = math.Pi / 2
			ls.XAlign, ls.YAlign = text.XRight, text.YTop
			label(p, x0, below, "no data", ls, vg.Point{X: 1, Y: -2})
		}
		if i == 0 {
			legend.Add("no data (source down)", poly)
		}
	}
}

// lanes are the rules with bands, in the order they first went pending
// or firing: one strip each along the top of the plot.
func (c Chart) lanes() map[string]int {
	lanes := map[string]int{}
	for _, b := range c.Bands {
		if _, ok := lanes[b.Rule]; !ok {
			lanes[b.Rule] = len(lanes)
		}
	}
	return lanes
}

// addBands draws each alert's pending and firing stretches in its own lane
// at the top of the plot, the rule named at the lane's first band: light
// with a dashed edge while pending, dark with a solid edge while firing,
// which reads in grey as well as in colour.
func (c Chart) addBands(p *plot.Plot, legend *plot.Legend, lanes map[string]int, laneData float64) {
	named := map[string]bool{}
	var seen [2]bool
	var names []func() // drawn after every band, so no band covers a name
	defer func() {
		for _, n := range names {
			n()
		}
	}()
	for _, b := range c.Bands {
		lane := lanes[b.Rule]
		top := p.Y.Max - laneData*float64(lane)
		bottom := top - laneData*0.85
		x0, x1 := seconds(c.From, b.From), seconds(c.From, b.To)
		if x1 <= x0 {
			x1 = x0 + p.X.Max/500 // an alert that lasted one snapshot is still a sliver
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: bottom}, {X: x1, Y: bottom}, {X: x1, Y: top}, {X: x0, Y: top}})
		if err != nil {
			continue
		}
		what := "pending"
		poly.Color = pendingFill
		poly.LineStyle = draw.LineStyle{Color: color.Gray{Y: 90}, Width: vg.Points(0.6), Dashes: []vg.Length{vg.Points(2), vg.Points(1.5)}}
		if b.Firing {
			what = "firing"
			poly.Color = firingFill
			poly.LineStyle = draw.LineStyle{Color: color.Gray{Y: 20}, Width: vg.Points(0.8)}
		}
		add(p, poly)
		if !named[b.Rule] {
			named[b.Rule] = true
			x, y, name := x0, bottom, b.Rule
			names = append(names, func() { label(p, x, y, name, textStyle(smallFont), vg.Point{X: 2, Y: 1.5}) })
		}
		if i := boolIndex(b.Firing); !seen[i] {
			seen[i] = true
			legend.Add("alert "+what, poly)
		}
	}
}

// addStack draws the running totals from the top layer down, each filled
// to zero, so each visible band is one layer.
func (c Chart) addStack(p *plot.Plot, legend *plot.Legend) error {
	edge := draw.LineStyle{Color: color.Gray{Y: 60}, Width: vg.Points(0.5)}
	for i := len(c.Stack) - 1; i >= 0; i-- {
		fill := stackFills[i%len(stackFills)]
		for _, seg := range segments(c.Stack[i], c.From) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return err
			}
			l.FillColor, l.LineStyle = fill, edge
			add(p, l)
		}
		// An outlined box in the legend: a pale layer still shows there.
		legend.Add(c.Stack[i].Label, &plotter.Polygon{Color: fill, LineStyle: edge})
	}
	return c.markPeak(p)
}

// markPeak points at the stack's highest total with its value and time: a
// one-second spike in hours is a hairline, and must still be found.
func (c Chart) markPeak(p *plot.Plot) error {
	if len(c.Stack) == 0 {
		return nil
	}
	x, y, ok := peakOf(c.Stack[len(c.Stack)-1], c)
	if !ok {
		return nil
	}
	sc, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3), Shape: draw.PyramidGlyph{}}
	add(p, sc)
	ls := textStyle(smallFont)
	ls.XAlign = text.XCenter
	if x > p.X.Max*0.85 {
		ls.XAlign = text.XRight
	} else if x < p.X.Max*0.15 {
		ls.XAlign = text.XLeft
	}
	at := c.From.Add(time.Duration(x * float64(time.Second))).UTC().Format("15:04:05")
	label(p, x, y, "peak "+count(y)+" at "+at, ls, vg.Point{Y: 5})
	return nil
}

func (c Chart) addLines(p *plot.Plot, legend *plot.Legend, scale vg.Point) error {
	var placed []vg.Rectangle
	for i, s := range c.Lines {
		sty := draw.LineStyle{Color: lineColors[i%len(lineColors)], Width: vg.Points(2), Dashes: lineDashes[i%len(lineDashes)]}
		if err := addSeries(p, s, c, sty); err != nil {
			return err
		}
		legend.Add(s.Label, &plotter.Line{LineStyle: sty})
		if x, y, ok := peakOf(s, c); ok {
			ls := textStyle(smallFont)
			w, h := ls.Width(s.Label), ls.Height(s.Label)
			at := vg.Point{X: vg.Length(x) * scale.X, Y: vg.Length(y) * scale.Y}
			// Centred on the peak, or beginning or ending there near an
			// edge, so the name stays inside the plot.
			left := at.X - w/2
			switch {
			case left < 0:
				ls.XAlign, left = text.XLeft, at.X
			case at.X+w/2 > vg.Length(p.X.Max)*scale.X:
				ls.XAlign, left = text.XRight, at.X-w
			default:
				ls.XAlign = text.XCenter
			}
			// Above the peak, else below it; a name that would cover
			// another is left to the legend.
			for _, dy := range []vg.Length{3, -3 - h} {
				box := vg.Rectangle{Min: vg.Point{X: left, Y: at.Y + dy}, Max: vg.Point{X: left + w, Y: at.Y + dy + h}}
				if !overlapsAny(box, placed) {
					placed = append(placed, box)
					label(p, x, y, s.Label, ls, vg.Point{Y: dy})
					break
				}
			}
		}
	}
	return nil
}

func (c Chart) addLimits(p *plot.Plot, legend *plot.Legend) error {
	for i, s := range c.Limits {
		sty := draw.LineStyle{Color: color.Gray{Y: 30}, Width: vg.Points(1.2), Dashes: limitDashes[i%len(limitDashes)]}
		if err := addSeries(p, s, c, sty); err != nil {
			return err
		}
		legend.Add(s.Label, &plotter.Line{LineStyle: sty})
		if x, y, ok := lastOf(s, c); ok {
			ls := textStyle(smallFont)
			ls.XAlign = text.XRight
			off := vg.Point{X: -2, Y: 2}
			if i%2 == 1 { // below its line, so two close limits do not write over each other
				ls.YAlign, off.Y = text.YTop, -2
			}
			label(p, x, y, s.Label+" "+count(y)+s.Unit, ls, off)
		}
	}
	return nil
}

// addSeries draws s as one line per run of samples; a lone sample between
// gaps is drawn as a dot, which a line of one point would not show.
func addSeries(p *plot.Plot, s Series, c Chart, sty draw.LineStyle) error {
	for _, seg := range segments(s, c.From) {
		if len(seg) == 1 {
			sc, err := plotter.NewScatter(seg)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
			add(p, sc)
			continue
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			return err
		}
		l.LineStyle = sty
		add(p, l)
	}
	return nil
}

func peakOf(s Series, c Chart) (x, y float64, ok bool) {
	y = math.Inf(-1)
	for _, pt := range s.Points {
		if !math.IsNaN(pt.V) && pt.V > y {
			x, y, ok = seconds(c.From, pt.At), pt.V, true
		}
	}
	return x, y, ok
}

func lastOf(s Series, c Chart) (x, y float64, ok bool) {
	for i := len(s.Points) - 1; i >= 0; i-- {
		if pt := s.Points[i]; !math.IsNaN(pt.V) {
			return seconds(c.From, pt.At), pt.V, true
		}
	}
	return 0, 0, false
}

func (c Chart) addEvents(p *plot.Plot, legend *plot.Legend) error {
	if len(c.Events) == 0 {
		return nil
	}
	level := c.EventLevel
	if level <= 0 {
		level = p.Y.Max * 0.9
	}
	xys := make(plotter.XYs, len(c.Events))
	for i, e := range c.Events {
		xys[i] = plotter.XY{X: seconds(c.From, e), Y: level}
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 0xb2, A: 0xff}, Radius: vg.Points(3), Shape: draw.CrossGlyph{}}
	add(p, sc)
	legend.Add(c.EventLabel, sc)
	return nil
}

// addMarkers draws each action as a dotted vertical line numbered at its
// top, the number the caption under the plot explains; a number that
// would touch its neighbour's is moved one row down.
func (c Chart) addMarkers(p *plot.Plot, legend *plot.Legend, below, rowData, pointsPerX float64) {
	sty := draw.LineStyle{Color: color.Black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
	lastX, row := math.Inf(-1), 0
	for i, m := range c.Markers {
		x := seconds(c.From, m.At)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: below}})
		if err != nil {
			continue
		}
		l.LineStyle = sty
		add(p, l)
		row++
		if (x-lastX)*pointsPerX > 3*smallFont {
			row = 0
		}
		lastX = x
		ls := textStyle(smallFont + 1)
		ls.XAlign, ls.YAlign = text.XLeft, text.YTop
		label(p, x, below-rowData*float64(row%3), strconv.Itoa(i+1), ls, vg.Point{X: 2, Y: -2})
		if i == 0 {
			legend.Add("action (numbered below)", l)
		}
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func overlapsAny(r vg.Rectangle, others []vg.Rectangle) bool {
	for _, o := range others {
		if r.Min.X < o.Max.X && o.Min.X < r.Max.X && r.Min.Y < o.Max.Y && o.Min.Y < r.Max.Y {
			return true
		}
	}
	return false
}
