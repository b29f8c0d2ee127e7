package tui

import (
	"context"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// TestMain gives lipgloss's global renderer a colour profile no test
// renderer uses (basic ANSI), so a style that came from it would show up
// as escape codes in the Ascii goldens instead of hiding behind the
// profile `go test`'s non-terminal stdout would get.
func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.ANSI)
	os.Exit(m.Run())
}

func profileRenderer(p termenv.Profile) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(p)
	return r
}

var styleType = reflect.TypeOf(lipgloss.Style{})

// stylesOf calls fn with the path and renderer of every lipgloss.Style
// reachable from v (struct fields, pointers, interfaces, slices), reading
// the style's unexported renderer by reflection.
func stylesOf(v reflect.Value, path string, seen map[uintptr]bool, fn func(path string, r uintptr)) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == styleType {
			fn(path, v.FieldByName("r").Pointer())
			return
		}
		for i := 0; i < v.NumField(); i++ {
			stylesOf(v.Field(i), path+"."+v.Type().Field(i).Name, seen, fn)
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		stylesOf(v.Elem(), path, seen, fn)
	case reflect.Interface:
		if !v.IsNil() {
			stylesOf(v.Elem(), path, seen, fn)
		}
	case reflect.Slice, reflect.Array:
		// Data slices (sessions, clients) hold no styles; one element
		// says as much as all of them.
		if v.Len() > 0 {
			stylesOf(v.Index(0), path+"[0]", seen, fn)
		}
	}
}

// TestNoStyleFromGlobalRenderer: every style the model holds, its own and
// those inside bubbles' help and text input, is built on the model's
// renderer. bubbles' constructors use lipgloss's global renderer, which in
// `slotwatch serve` is the server's stdout, not the viewer's terminal.
func TestNoStyleFromGlobalRenderer(t *testing.T) {
	r := profileRenderer(termenv.TrueColor)
	m := New(context.Background(), Options{Now: func() time.Time { return fixedNow }}, r)
	m = update(update(m, tea.WindowSizeMsg{Width: 120, Height: 40}), frameMsg{frame: incidentFrame(t)})
	m = update(m, keyMsg("/")) // the filter's text input is live
	want := reflect.ValueOf(r).Pointer()
	n := 0
	stylesOf(reflect.ValueOf(&m), "Model", map[uintptr]bool{}, func(path string, got uintptr) {
		n++
		if got != want {
			t.Errorf("%s is not built on the model's renderer (renderer %#x, want %#x; 0 is lipgloss's global one)",
				path, got, want)
		}
	})
	if n < 15 {
		t.Fatalf("found only %d styles in the model; the walk is not reaching them", n)
	}
}

// TestRenderersDoNotLeak renders two served sessions at once, one on an
// Ascii terminal and one on a TrueColor terminal, through the same
// sequence of frames and keys: the Ascii screen never carries an escape
// code, the TrueColor one does, and both show the same text. Run with
// -race: nothing is shared between the models.
func TestRenderersDoNotLeak(t *testing.T) {
	base := incidentFrame(t)
	run := func(p termenv.Profile, out *[]string, wg *sync.WaitGroup) {
		defer wg.Done()
		opts := Options{Now: func() time.Time { return fixedNow }, Mitigator: &fakeMitigator{},
			Viewer: &Viewer{Name: "marcus"}, Presence: func() []string { return []string{"kim (operator)", "marcus"} }}
		m := New(context.Background(), opts, profileRenderer(p))
		m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
		for i := 0; i < 20; i++ {
			m = update(m, frameMsg{frame: advance(base, i)})
			if i%5 == 4 {
				m = update(m, keyMsg("tab"))
			}
			*out = append(*out, m.View())
		}
	}
	var ascii, color []string
	var wg sync.WaitGroup
	wg.Add(2)
	go run(termenv.Ascii, &ascii, &wg)
	go run(termenv.TrueColor, &color, &wg)
	wg.Wait()
	for i := range ascii {
		if strings.Contains(ascii[i], "\x1b[") {
			t.Fatalf("frame %d: the Ascii session got escape codes: %q", i, firstEscape(ascii[i]))
		}
		if !strings.Contains(color[i], "38;5;196") {
			t.Fatalf("frame %d: the TrueColor session lost its colours", i)
		}
		if got := ansi.Strip(color[i]); got != ascii[i] {
			t.Fatalf("frame %d: the two sessions show different text:\n%s\n---\n%s", i, got, ascii[i])
		}
	}
}

func firstEscape(s string) string {
	i := strings.Index(s, "\x1b[")
	return s[max(i-20, 0):min(i+20, len(s))]
}
