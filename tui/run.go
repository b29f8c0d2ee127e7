package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func newRenderer(opts Options) *lipgloss.Renderer {
	out := opts.Output
	if out == nil {
		out = os.Stdout
	}
	r := lipgloss.NewRenderer(out)
	if opts.NoColor {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

// RendererFPS bounds how often bubbletea repaints: the screen changes once
// per refresh, and 20 fps still shows a key press within 50 ms, while the
// default 60 fps wake-ups were most of an idle console's CPU. serve uses it
// for every session too.
const RendererFPS = 20

// ProgramOptions are the renderer options of every dashboard program (the
// terminal's and each served session's) writing to out, followed by extra:
// the frame rate, and a writer that sends the terminal only the cells that
// changed (cells.go).
func ProgramOptions(out io.Writer, extra ...tea.ProgramOption) []tea.ProgramOption {
	return append(append([]tea.ProgramOption{tea.WithFPS(RendererFPS)}, cellOutput(out)...), extra...)
}

// Run shows the dashboard until the engineer quits or ctx ends. Live and
// demo mode need a Feed; replay mode needs Frames.
func Run(ctx context.Context, opts Options) error {
	if opts.Mode != ModeReplay && opts.Feed == nil {
		return errors.New("the dashboard needs a frame feed outside replay mode")
	}
	if opts.Mode == ModeReplay && len(opts.Frames) == 0 {
		return errors.New("the recording holds no snapshot to replay")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// bubbletea's renderer wakes at its frame rate even when nothing
	// changed (60 fps by default): on an idle console those wake-ups were
	// most of our CPU. The screen changes once per refresh, and 20 fps
	// still shows a key press within 50 ms.
	out := opts.Output
	if out == nil {
		out = os.Stdout
	}
	progOpts := ProgramOptions(out, tea.WithAltScreen(), tea.WithContext(ctx))
	if opts.Input != nil {
		progOpts = append(progOpts, tea.WithInput(opts.Input))
	}
	p := tea.NewProgram(New(ctx, opts, nil), progOpts...)
	if opts.Mode != ModeReplay {
		go Bridge(ctx, opts.Feed, opts.RecordingErrors, p.Send)
	}
	_, err := p.Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("the dashboard stopped: %w", err)
	}
	return nil
}
