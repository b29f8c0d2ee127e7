package drill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisLeak opens a new Redis client at a steady rate and never closes it,
// like the analytics cache calling redis.from_url per request. Each client
// is a plain connection speaking RESP: a client pool (go-redis) would
// reconnect a killed client, and a killed leaked client must stay dead.
type redisLeak struct {
	out      *printer
	network  string
	addr     string
	username string
	password string
	db       int
	every    time.Duration
	limit    int

	readers sync.WaitGroup

	mu        sync.Mutex
	clients   map[int]net.Conn
	attempts  int
	opened    int
	closed    int // closed by the server: killed, or the timeout guard
	unplanned int // closed since the last report
	refused   int
	closing   bool
}

var errRefused = errors.New("max number of clients reached")

func startRedisLeak(ctx context.Context, cfg Config, out *printer, wg *sync.WaitGroup) (*redisLeak, error) {
	opts, err := parseRedisURL(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil {
		return nil, errors.New("the drill speaks plain Redis only; give a redis:// URL, not rediss://")
	}
	l := &redisLeak{out: out, network: opts.Network, addr: opts.Addr, username: opts.Username, password: opts.Password,
		db: opts.DB, every: cfg.RedisEvery, limit: cfg.RedisClients, clients: map[int]net.Conn{}}
	if l.network == "" {
		l.network = "tcp"
	}
	if err := l.openOne(ctx); err != nil {
		return nil, fmt.Errorf("cannot open a Redis client at %s: %w; check the Redis URL, or run the drill without Redis", l.addr, err)
	}
	out.printf("redis: leaking one client every %s into %s, named %s<n> (lib-name redis-py), at most %d, never closed",
		l.every, l.addr, RedisNamePrefix, l.limit)
	wg.Add(1)
	go l.loop(ctx, wg)
	return l, nil
}

func (l *redisLeak) loop(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(l.every)
	defer t.Stop()
	failures, announced := 0, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.reportClosed()
		if l.full() || failures >= 10 {
			continue
		}
		err := l.openOne(ctx)
		switch {
		case err == nil:
			failures = 0
		case errors.Is(err, errRefused):
		case ctx.Err() == nil:
			failures++
			if failures == 1 || failures == 10 {
				l.out.printf("redis: cannot open a new client (%v)%s", err, map[bool]string{true: "; giving up the leak", false: ""}[failures == 10])
			}
		}
		if l.full() && !announced {
			announced = true
			l.out.printf("redis: %d leaked clients opened; the leak stops here (the drill's Redis client limit)", l.limit)
		}
	}
}

func (l *redisLeak) full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts >= l.limit
}

func (l *redisLeak) reportClosed() {
	l.mu.Lock()
	n := l.unplanned
	l.unplanned = 0
	l.mu.Unlock()
	if n > 0 {
		l.out.printf("redis: %d leaked client(s) closed by the server (killed or timed out); they are not reopened", n)
	}
}

// openOne connects one client, names it like the analytics cache and runs
// one cache lookup, then leaves it open and idle.
func (l *redisLeak) openOne(ctx context.Context) error {
	l.mu.Lock()
	n := l.attempts
	l.attempts++
	l.mu.Unlock()
	dialer := net.Dialer{Timeout: 3 * time.Second}
	c, err := dialer.DialContext(ctx, l.network, l.addr)
	if err != nil {
		return err
	}
	if err := l.handshake(c, n); err != nil {
		c.Close()
		if errors.Is(err, errRefused) {
			l.mu.Lock()
			l.refused++
			l.mu.Unlock()
		}
		return err
	}
	l.mu.Lock()
	l.clients[n] = c
	l.opened++
	l.mu.Unlock()
	l.readers.Add(1)
	go l.watch(n, c)
	return nil
}

func (l *redisLeak) handshake(c net.Conn, n int) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	var cmds [][]string
	if l.password != "" {
		if l.username != "" {
			cmds = append(cmds, []string{"AUTH", l.username, l.password})
		} else {
			cmds = append(cmds, []string{"AUTH", l.password})
		}
	}
	if l.db != 0 {
		cmds = append(cmds, []string{"SELECT", strconv.Itoa(l.db)})
	}
	name := RedisNamePrefix + strconv.Itoa(n)
	cmds = append(cmds,
		[]string{"CLIENT", "SETNAME", name},
		[]string{"CLIENT", "SETINFO", "LIB-NAME", "redis-py"},
		[]string{"CLIENT", "SETINFO", "LIB-VER", "5.0.1"},
		[]string{"GET", "analytics:query-result:" + strconv.Itoa(n)})
	rd := bufio.NewReader(c)
	if refusedAtAccept(c, rd) {
		return errRefused
	}
	var b strings.Builder
	for _, cmd := range cmds {
		b.WriteString(encodeCommand(cmd))
	}
	_, werr := c.Write([]byte(b.String()))
	for i, cmd := range cmds {
		msg, err := readReply(rd)
		if err != nil {
			return errors.Join(err, werr)
		}
		switch {
		case strings.Contains(msg, "max number of clients"):
			return errRefused
		case msg != "" && cmd[0] == "AUTH":
			return errors.New("Redis refused the credentials in the URL")
		case msg != "" && (cmd[0] == "SELECT" || (cmd[0] == "CLIENT" && cmd[1] == "SETNAME")):
			return fmt.Errorf("%s failed: %s", strings.Join(cmds[i][:2], " "), msg)
		}
		// CLIENT SETINFO fails before Redis 7.2, which shows no lib-name: fine.
	}
	return nil
}

// refusedAtAccept reads the error Redis sends unprompted when it is at
// maxclients. It must be read before writing: Redis closes the connection
// right after it, and writing into a closed connection can reset it and
// lose the message.
func refusedAtAccept(c net.Conn, rd *bufio.Reader) bool {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	defer c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := rd.Peek(1); err != nil {
		return false
	}
	msg, err := readReply(rd)
	return err == nil && strings.Contains(msg, "max number of clients")
}

// watch waits for the server to close the client: the drill never writes
// to it again, so a read returns only when the connection ends.
func (l *redisLeak) watch(n int, c net.Conn) {
	defer l.readers.Done()
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return
	}
	delete(l.clients, n)
	l.closed++
	l.unplanned++
}

func (l *redisLeak) counts() (open, closed, refused, opened int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients), l.closed, l.refused, l.opened
}

// closeAll closes every leaked client still open and returns how many.
func (l *redisLeak) closeAll() int {
	l.mu.Lock()
	l.closing = true
	n := len(l.clients)
	for _, c := range l.clients {
		c.Close()
	}
	l.clients = map[int]net.Conn{}
	l.mu.Unlock()
	l.readers.Wait()
	return n
}

func encodeCommand(args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// readReply reads one RESP reply and returns its error message, if it is an
// error reply.
func readReply(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '-':
		return line[1:], nil
	case '+', ':':
		return "", nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n >= 0 {
			if _, err := rd.Discard(n + 2); err != nil {
				return "", fmt.Errorf("read bulk reply: %w", err)
			}
		}
		return "", nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func parseRedisURL(u string) (*redis.Options, error) {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return nil, errors.New("the drill's Redis URL cannot be parsed; use redis://[user:password@]host:port/db")
	}
	return opts, nil
}
