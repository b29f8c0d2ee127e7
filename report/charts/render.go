package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/slotwatch/slotwatch/internal/spark"
)

const (
	// legendWidth is the column right of the plot that holds the legend,
	// so it never covers the data.
	legendWidth = 2.35 * vg.Inch
	// laneHeight is one alert's strip along the top of the plot.
	laneHeight = vg.Length(smallFont + 4)
	// frame is the height the title and the x axis take from the canvas,
	// near enough to size the alert lanes in data units.
	frame = 62
	// captionLine is one line of the action list under the plot.
	captionLine = vg.Length(smallFont + 5)
	// maxCaption bounds that list; the report's actions table has them all.
	maxCaption = 8
	// pointsPerBucket: one drawn point per this many points of plot width
	// is finer than the eye and keeps an hours-long chart small.
	pointsPerBucket = 1
	fontSize        = 10
	smallFont       = 8
)

// Drawn is the chart as it is drawn at size: every series and limit
// downsampled by spark.Downsample to the plot's width (the maximum of each
// bucket, gaps kept), and the events thinned to one per bucket.
func (c Chart) Drawn(size Size) Chart {
	buckets := c.buckets(size)
	out := c
	out.Stack = downsampleAll(c.cumulative(), c.From, c.To, buckets)
	out.Lines = downsampleAll(c.Lines, c.From, c.To, buckets)
	out.Limits = downsampleAll(c.Limits, c.From, c.To, buckets)
	out.Events = thin(c.Events, c.From, c.To, buckets)
	return out
}

func (c Chart) buckets(size Size) int {
	w := vg.Length(size.Width)*vg.Inch - legendWidth
	return max(1, int(w.Points()/pointsPerBucket))
}

// cumulative turns the stack's layers into running totals, bottom first: a
// layer's top edge is its own value plus everything below. A NaN in any
// layer makes the point a gap in every layer above it.
func (c Chart) cumulative() []Series {
	out := make([]Series, len(c.Stack))
	var below []float64
	for i, s := range c.Stack {
		pts := make([]Point, len(s.Points))
		for j, p := range s.Points {
			v := p.V
			if below != nil && j < len(below) {
				v += below[j]
			}
			pts[j] = Point{At: p.At, V: v}
		}
		below = make([]float64, len(pts))
		for j := range pts {
			below[j] = pts[j].V
		}
		out[i] = Series{Label: s.Label, Points: pts}
	}
	return out
}

func downsampleAll(in []Series, from, to time.Time, buckets int) []Series {
	out := make([]Series, len(in))
	for i, s := range in {
		xs, ys := make([]float64, len(s.Points)), make([]float64, len(s.Points))
		for j, p := range s.Points {
			xs[j], ys[j] = seconds(from, p.At), p.V
		}
		xs, ys = spark.Downsample(xs, ys, 0, seconds(from, to), buckets)
		pts := make([]Point, len(xs))
		for j := range xs {
			pts[j] = Point{At: at(from, xs[j]), V: ys[j]}
		}
		out[i] = Series{Label: s.Label, Points: pts, Unit: s.Unit}
	}
	return out
}

// thin keeps the first event of each bucket: marks closer than a point
// would be drawn on top of each other anyway.
func thin(events []time.Time, from, to time.Time, buckets int) []time.Time {
	span := seconds(from, to) / float64(buckets)
	if len(events) <= buckets || span <= 0 {
		return events
	}
	var out []time.Time
	last := -1
	for _, e := range events {
		if b := int(seconds(from, e) / span); b != last {
			out, last = append(out, e), b
		}
	}
	return out
}

func seconds(from, t time.Time) float64 { return t.Sub(from).Seconds() }

func at(from time.Time, x float64) time.Time {
	return from.Add(time.Duration(math.Round(x * float64(time.Second))))
}

// SVG draws the chart at size. The output depends on nothing but the
// chart: fonts are the library's bundled Liberation Sans, and no clock is
// read.
func (c Chart) SVG(w io.Writer, size Size) error {
	width, height := vg.Length(size.Width)*vg.Inch, vg.Length(size.Height)*vg.Inch
	d := c.Drawn(size)
	p, legend, err := d.plot(size)
	if err != nil {
		return fmt.Errorf("chart %s: %w", c.Name, err)
	}
	caption := d.caption()
	capHeight := captionLine * vg.Length(len(caption))
	if len(caption) > 0 {
		capHeight += captionLine / 2
	}
	canvas := vgsvg.New(width, height+capHeight)
	dc := draw.New(canvas)
	p.Draw(draw.Crop(dc, 0, -legendWidth, capHeight, 0))
	legend.Draw(draw.Crop(dc, width-legendWidth+8, 0, capHeight, -vg.Length(fontSize+8)))
	sty := textStyle(smallFont + 1)
	for i, line := range caption {
		dc.FillText(sty, vg.Point{X: 0.55 * vg.Inch, Y: capHeight - captionLine*vg.Length(i+1)}, line)
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return fmt.Errorf("chart %s: %w", c.Name, err)
	}
	_, err = w.Write(fontFallback(buf.Bytes()))
	return err
}

// caption lists the actions the numbered markers stand for, one a line,
// under the plot: labels along lines seconds apart would write over each
// other.
func (c Chart) caption() []string {
	var out []string
	for i, m := range c.Markers {
		if i == maxCaption {
			out = append(out, fmt.Sprintf("… and %d more actions: see the report's actions table", len(c.Markers)-maxCaption))
			break
		}
		out = append(out, fmt.Sprintf("%d  %s  %s", i+1, m.At.UTC().Format("15:04:05"), m.Label))
	}
	return out
}

// fontFallback names metric-compatible fonts after Liberation Sans: text is
// measured with Liberation's metrics, and a viewer without it (GitHub's
// image view, most browsers) then draws Arial or Helvetica at the same
// widths rather than its default serif.
func fontFallback(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

func (c Chart) plot(size Size) (*plot.Plot, plot.Legend, error) {
	height := vg.Length(size.Height) * vg.Inch
	p := plot.New()
	p.Title.Text = c.Title
	p.Title.TextStyle.Font = sans(fontSize + 2)
	p.Title.Padding = 6
	p.X.Label.Text = "time (UTC), " + c.From.UTC().Format("2006-01-02")
	p.Y.Label.Text = c.YLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(fontSize)
		a.Tick.Label.Font = sans(fontSize)
	}
	p.X.Min, p.X.Max = 0, math.Max(seconds(c.From, c.To), 1)
	p.X.Tick.Marker = timeTicks{from: c.From}
	lanes := c.lanes()
	// The data keep the lower part; the alert lanes take the top, each
	// laneHeight high whatever the scale.
	share := float64(laneHeight) * float64(len(lanes)) / float64(height-frame)
	p.Y.Min, p.Y.Max = 0, c.ceiling()/(1-math.Min(share, 0.5))
	laneData := p.Y.Max * float64(laneHeight) / float64(height-frame)
	p.Y.Tick.Marker = valueTicks{whole: !c.Fractional}

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font = sans(smallFont + 1)
	legend.ThumbnailWidth = 0.35 * vg.Inch
	legend.Padding = 1.5

	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	add(p, grid)

	plotWidth := float64(vg.Length(size.Width)*vg.Inch - legendWidth - 0.6*vg.Inch)
	below := p.Y.Max - laneData*float64(len(lanes))
	c.addOutages(p, &legend, below, plotWidth/p.X.Max)
	c.addBands(p, &legend, lanes, laneData)
	if err := c.addStack(p, &legend); err != nil {
		return nil, legend, err
	}
	scale := vg.Point{X: vg.Length(plotWidth / p.X.Max), Y: vg.Length(float64(height-frame) / p.Y.Max)}
	if err := c.addLines(p, &legend, scale); err != nil {
		return nil, legend, err
	}
	if err := c.addLimits(p, &legend); err != nil {
		return nil, legend, err
	}
	if err := c.addEvents(p, &legend); err != nil {
		return nil, legend, err
	}
	c.addMarkers(p, &legend, below, laneData, plotWidth/p.X.Max)
	return p, legend, nil
}

// ceiling leaves a tenth of headroom above the highest value, rounded up
// to a multiple of a round step.
func (c Chart) ceiling() float64 {
	top := 0.0
	for _, group := range [][]Series{c.Stack, c.Lines, c.Limits} {
		for _, s := range group {
			for _, pt := range s.Points {
				if !math.IsNaN(pt.V) {
					top = math.Max(top, pt.V)
				}
			}
		}
	}
	top = math.Max(math.Max(top*1.1, c.EventLevel*1.1), 1)
	step := niceCeil(top / 5) // a round multiple: 1,207 → 1,250, not 2,000
	return math.Ceil(top/step) * step
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// segments splits a series at its gaps: each run of samples is drawn on
// its own, so an outage leaves a hole instead of a line across it.
func segments(s Series, from time.Time) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for _, p := range s.Points {
		if math.IsNaN(p.V) {
			if len(cur) > 0 {
				out, cur = append(out, cur), nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: seconds(from, p.At), Y: p.V})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// add adds a plotter and keeps the axes where plot set them: the library
// widens them to every plotter's data range, a label's text included.
func add(p *plot.Plot, pl plot.Plotter) {
	x0, x1, y0, y1 := p.X.Min, p.X.Max, p.Y.Min, p.Y.Max
	p.Add(pl)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = x0, x1, y0, y1
}

// sans is the bundled Liberation Sans, which has Arial's metrics: the
// library's default is the serif.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    sans(size),
		Handler: plot.DefaultTextHandler,
	}
}

// label places one text at a data point, offset by off.
func label(p *plot.Plot, x, y float64, s string, sty text.Style, off vg.Point) {
	p.Add(fixedLabel{&plotter.Labels{
		XYs:       plotter.XYs{{X: x, Y: y}},
		Labels:    []string{s},
		TextStyle: []text.Style{sty},
		Offset:    off,
	}})
}

// fixedLabel is a label that neither widens the axes nor shrinks the
// plot to fit its text, so every chart of a report has the same plot area
// and their time axes line up.
type fixedLabel struct{ l *plotter.Labels }

func (f fixedLabel) Plot(c draw.Canvas, p *plot.Plot) { f.l.Plot(c, p) }
