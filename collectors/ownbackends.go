package collectors

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// closeGrace is how long a closed connection's pid stays known as
// slotwatch's own: its backend lingers in pg_stat_activity for a moment
// after the client closed it (the probe closes one every interval).
const closeGrace = 2 * time.Second

// ownBackends knows every PostgreSQL connection this process holds, by
// server (host:port), so that the collector of a server leaves all of them
// out of the sessions and counts them as own_connections; and what each
// role of a server may do with the reserved slots, learned on the
// collector's connection, so that a 53300 refusal can be explained. It is
// shared by the goroutines of one Start or CollectOnce.
type ownBackends struct {
	mu    sync.Mutex
	conns map[string]ownConn // by holder and pid
	roles map[string]roleAttrs
	// starting counts connections being opened, by server and
	// application_name: their backend exists before its pid is known.
	starting map[[2]string]int
}

type ownConn struct {
	server string
	pid    int32
	until  time.Time // zero while open
}

// roleAttrs is what a role may do when the ordinary slots are gone.
type roleAttrs struct {
	superuser bool
	// reserved: member of pg_use_reserved_connections (PostgreSQL 16+).
	reserved bool
}

func (r roleAttrs) mayUseReserved() bool { return r.superuser || r.reserved }

func newOwnBackends() *ownBackends {
	return &ownBackends{conns: map[string]ownConn{}, roles: map[string]roleAttrs{}, starting: map[[2]string]int{}}
}

// ownKey names one connection: pids are per server, so two servers may
// both have a backend of the same pid.
func ownKey(holder, server string, pid uint32) string {
	return fmt.Sprintf("%s/%s/%d", holder, server, pid)
}

// opened records the backend pid of holder's new connection to server.
func (o *ownBackends) opened(holder, server string, pid uint32) {
	if o == nil || pid == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.conns[ownKey(holder, server, pid)] = ownConn{server: server, pid: int32(pid)}
}

// closed marks holder's connection pid as closed; it is forgotten once its
// backend has had time to exit.
func (o *ownBackends) closed(holder, server string, pid uint32) {
	if o == nil || pid == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := ownKey(holder, server, pid)
	if c, ok := o.conns[key]; ok {
		c.until = time.Now().Add(closeGrace)
		o.conns[key] = c
	}
}

// pids lists the backends of server that are this process's, sorted.
func (o *ownBackends) pids(server string) []int32 {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	var out []int32
	for key, c := range o.conns {
		if !c.until.IsZero() && now.After(c.until) {
			delete(o.conns, key)
			continue
		}
		if c.server == server {
			out = append(out, c.pid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// open counts the connections this process has open to server now.
func (o *ownBackends) open(server string) int {
	if o == nil {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.conns {
		if c.server == server && c.until.IsZero() {
			n++
		}
	}
	return n
}

// connecting marks a connection named app to server as being opened, until
// done is called.
func (o *ownBackends) connecting(server, app string) (done func()) {
	if o == nil {
		return func() {}
	}
	key := [2]string{server, app}
	o.mu.Lock()
	o.starting[key]++
	o.mu.Unlock()
	// A refused or closed backend lingers a moment after the client has
	// its answer.
	return func() {
		time.AfterFunc(closeGrace/4, func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.starting[key]--; o.starting[key] <= 0 {
				delete(o.starting, key)
			}
		})
	}
}

// startingApps lists the application names of connections being opened to
// server now.
func (o *ownBackends) startingApps(server string) []string {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var apps []string
	for key := range o.starting {
		if key[0] == server {
			apps = append(apps, key[1])
		}
	}
	return apps
}

func (o *ownBackends) setRole(server, user string, a roleAttrs) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.roles[server+"\x00"+user] = a
}

func (o *ownBackends) role(server, user string) (roleAttrs, bool) {
	if o == nil {
		return roleAttrs{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.roles[server+"\x00"+user]
	return a, ok
}
