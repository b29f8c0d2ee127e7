package report

import (
	"bytes"
	"fmt"
	"html"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/recording"
	"github.com/slotwatch/slotwatch/report/charts"
)

// ChartLink is one chart as the Markdown links it: a file beside the
// report.
type ChartLink struct {
	File  string // relative to the report: report-slots.svg
	Title string
}

// ChartFile is one drawn chart.
type ChartFile struct {
	ChartLink
	SVG []byte
}

// Document is a report with its charts, ready to be written as files: the
// Markdown linking each chart by its file name, the charts as SVG, and
// the HTML page with the same text and the charts inline.
type Document struct {
	Markdown []byte
	Charts   []ChartFile
	title    string
	html     []byte // the Markdown of the HTML page, which always links the charts
}

// ChartSize is the size the report draws its charts at.
func ChartSize() charts.Size { return charts.DefaultSize() }

// ChartFileName is the file a chart is written to beside a report whose
// file name (without extension) is stem.
func ChartFileName(stem, chart string) string { return stem + "-" + chart + ".svg" }

// BuildDocument replays the recording at path and draws the report and its
// charts at size. stem names the chart files (ChartFileName); linked says
// whether the Markdown links them (false when it goes to stdout, beside
// no file). Errors are as FromFile's.
func BuildDocument(path string, audit []actions.AuditEntry, opts Options, stem string, linked bool, size charts.Size) (*Document, []recording.LineError, error) {
	b, bad, err := replay(path, audit, opts)
	if err != nil {
		return nil, bad, err
	}
	opts.Skipped += len(bad)
	opts.Audit = audit
	doc, err := b.Document(opts, stem, linked, size)
	return doc, bad, err
}

// Document draws the charts and writes the report around them.
func (b *Builder) Document(opts Options, stem string, linked bool, size charts.Size) (*Document, error) {
	doc := &Document{title: "Postmortem draft"}
	if b.count > 0 {
		doc.title = "Postmortem draft: connection exhaustion, " + b.first.UTC().Format("2006-01-02 15:04 UTC")
	}
	var links []ChartLink
	for _, c := range b.Charts(opts.Audit) {
		var svg bytes.Buffer
		if err := c.SVG(&svg, size); err != nil {
			return nil, err
		}
		f := ChartFile{ChartLink: ChartLink{File: ChartFileName(stem, c.Name), Title: c.Title}, SVG: svg.Bytes()}
		doc.Charts = append(doc.Charts, f)
		links = append(links, f.ChartLink)
	}
	var md, page bytes.Buffer
	withLinks := opts
	withLinks.Charts = links
	if linked {
		opts.Charts = links
	}
	if err := b.Write(&md, opts); err != nil {
		return nil, err
	}
	if err := b.Write(&page, withLinks); err != nil {
		return nil, err
	}
	doc.Markdown, doc.html = md.Bytes(), page.Bytes()
	return doc, nil
}

// htmlStyle is the whole page's styling, inline: the page opens without a
// network.
const htmlStyle = `body{font-family:"Liberation Sans",Arial,Helvetica,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#111;line-height:1.45}
table{border-collapse:collapse;margin:0.5em 0 1em}th,td{border:1px solid #bbb;padding:0.2em 0.5em;text-align:left;vertical-align:top}
th{background:#eee}code{background:#f3f3f3;padding:0 0.2em}figure{margin:1em 0}figure svg{width:100%;height:auto;max-width:864px}
figcaption{font-size:0.9em;color:#333}`

// HTML is the report as one self-contained page: the Markdown rendered
// (GitHub tables), every chart inline as SVG, no external file, font or
// script.
func (d *Document) HTML() ([]byte, error) {
	var body bytes.Buffer
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
	if err := md.Convert(d.html, &body); err != nil {
		return nil, fmt.Errorf("render the report as HTML: %w", err)
	}
	page := body.String()
	for _, c := range d.Charts {
		// The paragraph goldmark wraps an image in goes too: a figure may not sit in a <p>.
		img := regexp.MustCompile(`(?:<p>)?<img src="` + regexp.QuoteMeta(html.EscapeString(url.PathEscape(c.File))) + `" alt="[^"]*"\s*/?>(?:</p>)?`)
		svg := inlineSVG(c.SVG)
		page = img.ReplaceAllLiteralString(page, `<figure role="img" aria-label="`+html.EscapeString(c.Title)+`">`+svg+`</figure>`)
	}
	var out bytes.Buffer
	out.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	out.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(&out, "<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", html.EscapeString(d.title), htmlStyle)
	out.WriteString(page)
	out.WriteString("</body>\n</html>\n")
	return out.Bytes(), nil
}

// inlineSVG drops the XML prolog and generator comment, which belong to a
// file and not inside HTML.
func inlineSVG(svg []byte) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s
}

// Stem is the chart file stem for a report written to path: report.md →
// report.
func Stem(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}
