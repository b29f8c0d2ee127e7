// Package charts draws the postmortem's pictures: time series of one
// recording, stacked or as lines, with limits, alert bands, probe refusals
// and the operators' actions, as SVG through gonum.org/v1/plot. It knows
// nothing of snapshots: package report hands it the series as data, so a
// test can hold a chart's numbers against the recording's.
package charts

import (
	"time"
)

// Point is one sample of a series; V is NaN where the source had no sample
// (an outage, a failed query): drawn as a gap, never as zero.
type Point struct {
	At time.Time
	V  float64
}

// Series is one named line or stacked layer.
type Series struct {
	Label  string
	Points []Point
	// Unit follows a limit's value where it is labelled ("alert at 1 s").
	Unit string
}

// Band is a stretch of time during which an alert was pending or firing.
type Band struct {
	From, To time.Time
	Rule     string
	Firing   bool
}

// Marker is one action from the audit log, drawn as a labelled vertical
// line at its time.
type Marker struct {
	At    time.Time
	Label string
}

// Chart is everything one picture shows. Stack layers are drawn stacked,
// the first at the bottom; Lines are drawn over them; Limits are the
// reference lines (usable slots, an alert threshold, maxclients), labelled
// at their right end; Events are instants marked on the usable line (the
// probe's refusals).
type Chart struct {
	// Name is the file stem ("slots" → slots.svg).
	Name   string
	Title  string
	YLabel string
	// Fractional marks a y axis of fractions (seconds waited); counts
	// are ticked at whole numbers only.
	Fractional bool
	// From and To are the recording's range: every chart of a report
	// spans the same time, so they read one above the other.
	From, To time.Time

	Stack  []Series
	Lines  []Series
	Limits []Series
	// Events are instants; EventLabel names them in the legend and
	// EventLevel is the height they are marked at (0: the top of the
	// chart).
	Events     []time.Time
	EventLabel string
	EventLevel float64

	Bands   []Band
	Markers []Marker
	// Outages are the stretches in which the chart's source did not
	// answer: shaded and named, besides the break in every line.
	Outages []Span
}

// Span is a stretch of time, From and To the first and last snapshot in it.
type Span struct{ From, To time.Time }

// Size is a chart's drawn size in inches (at 96 px per inch in a browser).
type Size struct{ Width, Height float64 }

// DefaultSize reads well in GitHub's Markdown column and in a browser:
// 864 × 360 px, shrunk to fit a narrower page.
func DefaultSize() Size { return Size{Width: 9, Height: 3.75} }
