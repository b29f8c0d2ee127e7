// Package serve is `slotwatch serve`: the war-room console. One set of
// collectors and one analysis pipeline run in the server; every engineer
// connects with ssh and gets a dashboard of their own (its own program,
// lipgloss renderer, colour profile, window size, focus, filter, sort and
// cursor) fed from the shared frame hub, so a hundred viewers cost no more
// database connections than one. Keys come from an authorized_keys file;
// each is a viewer (read-only) or an operator, and every session acts and
// is audited under its SSH identity in the one shared audit log. Presence
// and announcements keep everyone on the same page.
//
// It is a package of its own, not part of tui or cmd: it owns the SSH
// lifecycle (host key, authentication, sessions, stalled clients, shutdown)
// that neither the dashboard nor the command line should know about, and it
// is tested in-process with a real SSH client.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/fanout"
	"github.com/slotwatch/slotwatch/tui"
)

// DefaultListen keeps the server on loopback: listening beyond it is an
// explicit choice.
const DefaultListen = "127.0.0.1:2222"

// DefaultStallTimeout is how long a session's terminal may refuse output
// before the session is dropped.
const DefaultStallTimeout = 10 * time.Second

// Config configures a Server.
type Config struct {
	Listen         string   // host:port; default DefaultListen
	HostKey        string   // private key file, created on first run
	AuthorizedKeys string   // OpenSSH authorized_keys, re-read on every login
	Operators      []string // key fingerprints (SHA256:…) or key comments that may act
	// Frames is the one analysis pipeline's hub; each session subscribes.
	Frames *analysis.FrameHub
	// Actions is the shared fleet: one service per server on the
	// collectors' own connections (actions.SingleFleet for one server), the
	// safety policy and the one audit log. Each session
	// gets a copy under its SSH identity (WithOperator), read-only for a
	// viewer (AsViewer).
	Actions *actions.Fleet
	// Dashboard is the template of every session's tui.Options (mode,
	// intervals, title, notice, G's threshold); serve fills in the viewer,
	// presence, mitigator and feed.
	Dashboard    tui.Options
	StallTimeout time.Duration // default DefaultStallTimeout
	// Log receives one line per login, refusal, drop and action; nil discards.
	Log io.Writer
}

// Server is a listening war-room server.
type Server struct {
	cfg    Config
	ssh    *ssh.Server
	ln     net.Listener
	roster *roster
	claims *claims

	mu       sync.Mutex
	stopping string // why the server stops; "" while serving
	sessions sync.WaitGroup
}

// SSHCommand is the line an engineer types to connect: the listening port
// and, when the server listens on every interface, this machine's name.
func (s *Server) SSHCommand() string { return sshCommand(s.Addr().String()) }

func sshCommand(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "ssh " + addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "22" {
		return "ssh " + host
	}
	return "ssh -p " + port + " " + host
}

// Listen checks the configuration, loads (or creates) the host key and
// binds the address; Serve then accepts sessions.
func Listen(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Frames == nil || cfg.Actions == nil {
		return nil, errors.New("serve needs the frame hub of a running pipeline and an actions service")
	}
	if err := CheckAuthorizedKeys(cfg.AuthorizedKeys); err != nil {
		return nil, err
	}
	signer, err := loadHostKey(cfg.HostKey)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, roster: newRoster(), claims: newClaims()}
	srv, err := wish.NewServer(
		func(srv *ssh.Server) error { srv.AddHostKey(signer); return nil },
		wish.WithPublicKeyAuth(s.publicKeyHandler),
		wish.WithMiddleware(s.middleware),
	)
	if err != nil {
		return nil, fmt.Errorf("set up the SSH server: %w", err)
	}
	s.ssh = srv
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; choose another listen address", cfg.Listen, err)
	}
	s.ln = ln
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Presence lists who is connected, e.g. ["kim (operator)", "marcus"].
func (s *Server) Presence() []string { return s.roster.presence() }

// Serve accepts sessions until ctx ends, then ends every session with a
// last message naming context.Cause(ctx) and returns.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.ssh.Serve(s.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, ssh.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("the SSH server stopped: %w", err)
	case <-ctx.Done():
	}
	reason := "stopped"
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		reason = cause.Error()
	}
	s.stop(reason)
	<-errc
	return nil
}

// stop refuses new sessions, ends every session (each writes its last
// message) and closes the server, waiting a bounded time for clients.
func (s *Server) stop(reason string) {
	s.mu.Lock()
	s.stopping = reason
	s.mu.Unlock()
	s.roster.each(func(ss *sshSession) { ss.cancel() })
	done := make(chan struct{})
	go func() { s.sessions.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.logf("some sessions did not end within 5s; closing their connections")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.ssh.Shutdown(ctx); err != nil {
		_ = s.ssh.Close()
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		fmt.Fprintf(s.cfg.Log, "%s slotwatch serve: %s\n", time.Now().UTC().Format(time.TimeOnly), fmt.Sprintf(format, args...))
	}
}

// announce tells every session, and the server log, what someone did.
func (s *Server) announce(text string) {
	s.logf("%s", text)
	msg := tui.AnnounceMsg{Text: text}
	s.roster.each(func(ss *sshSession) { ss.box.postAnnouncement(msg) })
}

// auditChanged tells every session to refresh its audit pane.
func (s *Server) auditChanged() {
	s.roster.each(func(ss *sshSession) { ss.box.postAuditChanged() })
}

// sshSession is one connected engineer's SSH session (a PostgreSQL
// backend is a "session" elsewhere in slotwatch).
type sshSession struct {
	id      Identity
	ctx     context.Context
	cancel  context.CancelFunc
	out     *stallGuard
	box     *outbox
	feed    *analysis.FrameMailbox
	mit     *sessionMitigator
	dropped atomic.Bool
}

// middleware runs one session: it registers the session, runs its own
// dashboard program until the engineer quits, the client goes away or the
// server stops, then unsubscribes it and writes the last message.
func (s *Server) middleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		defer next(sess)
		pty, winch, ok := sess.Pty()
		if !ok {
			wish.Fatalln(sess, "slotwatch serve shows a dashboard and needs a terminal: connect with ssh -t.")
			return
		}
		s.mu.Lock()
		if reason := s.stopping; reason != "" {
			s.mu.Unlock()
			wish.Fatalln(sess, "slotwatch serve is stopping ("+reason+"); try again later.")
			return
		}
		s.sessions.Add(1)
		s.mu.Unlock()
		defer s.sessions.Done()

		ss := s.open(sess)
		defer s.close(ss)
		p := s.program(sess, ss, pty)
		go ss.resize(p, winch)
		if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
			s.logf("%s: the dashboard stopped: %v", ss.id.Label(), err)
		}
		p.Kill() // restores the terminal if the program did not
		if !ss.dropped.Load() {
			s.farewell(sess)
		}
	}
}

func (s *Server) open(sess ssh.Session) *sshSession {
	id := s.identify(sess)
	ctx, cancel := context.WithCancel(sess.Context())
	ss := &sshSession{id: id, ctx: ctx, cancel: cancel, out: newStallGuard(sess), box: newOutbox(),
		feed: s.cfg.Frames.Subscribe(id.Label()), mit: s.newMitigator(id)}
	s.roster.join(ss)
	s.logf("%s connected from %s with key %s (%d watching)", id.Label(), id.Addr, id.Fingerprint, s.roster.count())
	return ss
}

func (s *Server) close(ss *sshSession) {
	ss.cancel()
	s.cfg.Frames.Unsubscribe(ss.feed)
	s.roster.leave(ss)
	s.logf("%s disconnected (%d watching)", ss.id.Label(), s.roster.count())
}

// farewell is the session's last line, after the dashboard left the
// alternate screen.
func (s *Server) farewell(sess ssh.Session) {
	s.mu.Lock()
	reason := s.stopping
	s.mu.Unlock()
	if reason != "" {
		fmt.Fprintf(sess, "slotwatch serve is stopping (%s): this session has ended. The audit log and any recording are saved.\r\n", reason)
	}
	_ = sess.Exit(0)
}

// program builds the session's own dashboard. Everything reaching the
// program goes through goroutines of this session only: the frame bridge,
// the outbox and the resize loop.
func (s *Server) program(sess ssh.Session, ss *sshSession, pty ssh.Pty) *tea.Program {
	opts := s.cfg.Dashboard
	opts.Viewer = &tui.Viewer{Name: ss.id.Name, Fingerprint: ss.id.Fingerprint, Addr: ss.id.Addr, Operator: ss.id.Operator}
	opts.Presence = s.roster.presence
	opts.Mitigator = ss.mit
	opts.Attacher = sessionAttacher(opts.Attacher, ss.id)
	opts.Feed = ss.feed
	opts.Input, opts.Output, opts.RecordingErrors = nil, nil, nil
	p := tea.NewProgram(tui.New(ss.ctx, opts, sessionRenderer(sess, pty)),
		tui.ProgramOptions(ss.out, tea.WithInput(sess), tea.WithAltScreen(), tea.WithoutSignalHandler())...)
	go tui.Bridge(ss.ctx, ss.feed, nil, p.Send)
	go ss.deliver(p.Send)
	go ss.out.watch(ss.ctx, s.cfg.StallTimeout, func(blocked time.Duration) { s.drop(sess, ss, blocked) })
	return p
}

// resize forwards the client's window changes and quits the program when
// the session ends (client gone, dropped, server stopping). It drains the
// window changes into a latest-wins mailbox and never waits for the
// program: the SSH library delivers a channel's requests in order, so a
// window change left waiting behind a stalled terminal would hold up the
// whole connection, including the close that unblocks it.
func (ss *sshSession) resize(p *tea.Program, winch <-chan ssh.Window) {
	sizes := fanout.NewMailbox[tea.WindowSizeMsg]()
	go func() {
		for {
			select {
			case <-ss.ctx.Done():
				p.Quit()
				return
			case <-sizes.Ready():
				if m, ok := sizes.Take(); ok {
					p.Send(m)
				}
			}
		}
	}()
	for w := range winch {
		sizes.Put(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
	}
}

// sessionRenderer is the session's own lipgloss renderer: colour profile
// and background from the client's TERM and environment, never from the
// server's terminal (wish's bubbletea.MakeRenderer does the same, plus a
// background-colour query; see notes).
func sessionRenderer(sess ssh.Session, pty ssh.Pty) *lipgloss.Renderer {
	env := append(slices.Clone(sess.Environ()), "TERM="+pty.Term)
	if pty.Term == "" || pty.Term == "dumb" || noColor(env) {
		return lipgloss.NewRenderer(sess, termenv.WithProfile(termenv.Ascii))
	}
	return lipgloss.NewRenderer(sess, termenv.WithEnvironment(environ(env)), termenv.WithUnsafe(), termenv.WithColorCache(true))
}

// environ is the client's environment as termenv reads it.
type environ []string

func (e environ) Environ() []string { return e }

func (e environ) Getenv(k string) string {
	for i := len(e) - 1; i >= 0; i-- { // the last assignment wins, as in a shell
		if v, ok := strings.CutPrefix(e[i], k+"="); ok {
			return v
		}
	}
	return ""
}

// deliver sends what other sessions caused (announcements, audit changes)
// to this session's program; only this goroutine waits if it is slow.
func (ss *sshSession) deliver(send func(tea.Msg)) {
	for {
		select {
		case <-ss.ctx.Done():
			return
		case msg := <-ss.box.announce:
			send(msg)
		case <-ss.box.audit:
			send(tui.AuditMsg(ss.mit.RecentAudit(20)))
		}
	}
}

// drop ends a session whose terminal stopped reading: closing the
// connection unblocks its pending write.
func (s *Server) drop(sess ssh.Session, ss *sshSession, blocked time.Duration) {
	ss.dropped.Store(true)
	s.logf("dropped %s from %s: its terminal accepted no output for %s", ss.id.Label(), ss.id.Addr, blocked.Round(time.Second))
	ss.cancel()
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn); ok {
		_ = c.Close()
	}
}

func noColor(environ []string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return true
		}
	}
	return false
}

// sessionAttacher is the session's Attacher: the shared one for an
// operator, a refusing one for a viewer, nil when attaching is not wired.
func sessionAttacher(shared tui.Attacher, id Identity) tui.Attacher {
	if shared == nil || id.Operator {
		return shared
	}
	return viewerAttacher{}
}

// viewerAttacher is a served viewer's Attacher: attaching opens a
// connection every session then shares, so only operators may.
type viewerAttacher struct{}

func (viewerAttacher) Attach(context.Context, collectors.FleetInstance) (collectors.ServerInfo, error) {
	return collectors.ServerInfo{}, errViewerAttach
}

func (viewerAttacher) Detach(context.Context, string) error { return errViewerAttach }

var errViewerAttach = errors.New("only operators (serve.operators) may attach or detach live servers; ask one to")
