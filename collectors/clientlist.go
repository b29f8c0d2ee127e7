package collectors

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseClientList parses the reply of CLIENT LIST. Every line is one client of
// space-separated key=value pairs; values never contain spaces but may contain
// '=', so each pair is split on its first '='. Unknown fields are kept in Raw
// and missing ones left zero, so any Redis version from 2.8 to 8.x parses.
//
// The strings of the returned clients are substrings of reply: 10,000
// clients allocate only the result slice.
func ParseClientList(reply string) ([]RedisClient, error) {
	clients := make([]RedisClient, 0, strings.Count(reply, "\n")+1)
	lineNo := 0
	for len(reply) > 0 {
		line := reply
		if i := strings.IndexByte(reply, '\n'); i >= 0 {
			line, reply = reply[:i], reply[i+1:]
		} else {
			reply = ""
		}
		lineNo++
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		clients = append(clients, RedisClient{Raw: line})
		if err := clients[len(clients)-1].parseLine(line); err != nil {
			return nil, fmt.Errorf("CLIENT LIST line %d: %w", lineNo, err)
		}
	}
	return clients, nil
}

// Bits of the fields that come before db in every Redis version from 2.8.12.
const (
	seenID = 1 << iota
	seenAddr
	seenName
	seenAge
	seenIdle
	seenFlags
	seenDB
	seenBeforeDB = seenID | seenAddr | seenName | seenAge | seenIdle | seenFlags | seenDB
)

// parseLine reads pairs in order up to db. When every modelled field but
// cmd and lib-name has been seen by then (Redis 2.8.12 and later), those two
// are found by searching for them, which is exact because values never
// contain spaces. That skips the ~20 pairs of buffer statistics at SIMD
// speed; pairs are too short for a per-pair loop to be cheap. Other layouts
// are read pair by pair to the end.
func (c *RedisClient) parseLine(line string) error {
	start, seen := 0, 0
	for i := 0; i < len(line); i++ {
		if line[i] != ' ' {
			continue
		}
		bit, err := c.setPair(line[start:i])
		if err != nil {
			return err
		}
		seen |= bit
		start = i + 1
		if bit == seenDB && seen == seenBeforeDB {
			c.findRest(line[i:])
			return nil
		}
	}
	_, err := c.setPair(line[start:])
	return err
}

// findRest sets cmd and lib-name from the rest of a line, which starts
// with the space before a pair.
func (c *RedisClient) findRest(rest string) {
	if c.Cmd == "" {
		c.Cmd = pairValue(rest, "cmd=")
	}
	if c.LibName == "" {
		c.LibName = pairValue(rest, "lib-name=")
	}
}

// pairValue finds key=value in rest at a pair boundary. The search is
// for "key=" (a leading space would make the search stop at every pair)
// and then checks the byte before.
func pairValue(rest, key string) string {
	for {
		i := strings.Index(rest, key)
		if i < 0 {
			return ""
		}
		if i > 0 && rest[i-1] == ' ' {
			v := rest[i+len(key):]
			if j := strings.IndexByte(v, ' '); j >= 0 {
				v = v[:j]
			}
			return v
		}
		rest = rest[i+len(key):]
	}
}

func (c *RedisClient) setPair(pair string) (seen int, err error) {
	if pair == "" {
		return 0, nil
	}
	for i := 0; i < len(pair); i++ {
		if pair[i] == '=' {
			return c.set(pair[:i], pair[i+1:])
		}
	}
	return 0, fmt.Errorf("%q is not a key=value pair", truncate(pair, 40))
}

// set stores one known field and returns its seen bit; unknown fields stay
// available through Field.
func (c *RedisClient) set(key, value string) (int, error) {
	var err error
	switch key {
	case "id":
		c.ID, err = parseInt(key, value)
		return seenID, err
	case "addr":
		c.Addr = value
		return seenAddr, nil
	case "name":
		c.Name = value
		return seenName, nil
	case "age":
		c.AgeSeconds, err = parseInt(key, value)
		return seenAge, err
	case "idle":
		c.IdleSeconds, err = parseInt(key, value)
		return seenIdle, err
	case "flags":
		c.Flags = value
		return seenFlags, nil
	case "db":
		var db int64
		db, err = parseInt(key, value)
		c.DB = int(db)
		return seenDB, err
	case "lib-name":
		c.LibName = value
	case "cmd":
		c.Cmd = value
	}
	return 0, nil
}

func parseInt(key, value string) (int64, error) {
	if n, ok := smallUint(value); ok {
		return n, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %s=%q is not a number", key, truncate(value, 40))
	}
	return n, nil
}

// smallUint reads the short unsigned numbers ids, ages and idle times are,
// without strconv's generality; signs and overflow are left to strconv.
func smallUint(value string) (int64, bool) {
	if len(value) == 0 || len(value) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(value); i++ {
		d := value[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Field returns the value of any CLIENT LIST field of this client, including
// those slotwatch does not model (laddr, user, tot-mem, ...).
func (c *RedisClient) Field(key string) (string, bool) {
	rest := c.Raw
	for rest != "" {
		pair := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if k, v, ok := strings.Cut(pair, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Host is the client's address without the port: "10.0.0.7" for
// 10.0.0.7:52144, "::1" for [::1]:52144, the socket path for path:0.
func (c *RedisClient) Host() string { return addrHost(c.Addr) }

func addrHost(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if i := strings.IndexByte(addr, ']'); i > 0 {
			return addr[1:i]
		}
		return addr
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// FoldName replaces every run of digits by '#', so that cache-17 and cache-18
// (one client per worker or per request) fall into one group.
func FoldName(name string) string {
	if strings.IndexAny(name, "0123456789") < 0 {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	inDigits := false
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch >= '0' && ch <= '9' {
			if !inDigits {
				b.WriteByte('#')
			}
			inDigits = true
			continue
		}
		inDigits = false
		b.WriteByte(ch)
	}
	return b.String()
}

type redisGroupKey struct{ host, name, lib string }

// GroupRedisClients aggregates clients by host, folded name and library,
// largest group first (ties by host, name, library).
func GroupRedisClients(clients []RedisClient) []RedisGroup {
	index := make(map[redisGroupKey]int)
	folded := make(map[string]string)
	var groups []RedisGroup
	for i := range clients {
		c := &clients[i]
		name, ok := folded[c.Name]
		if !ok {
			name = FoldName(c.Name)
			folded[c.Name] = name
		}
		key := redisGroupKey{c.Host(), name, c.LibName}
		gi, ok := index[key]
		if !ok {
			gi = len(groups)
			index[key] = gi
			groups = append(groups, RedisGroup{Host: key.host, Name: key.name, LibName: key.lib})
		}
		g := &groups[gi]
		g.Count++
		g.MaxIdleSeconds = max(g.MaxIdleSeconds, c.IdleSeconds)
		g.OldestAgeSeconds = max(g.OldestAgeSeconds, c.AgeSeconds)
	}
	slices.SortFunc(groups, func(a, b RedisGroup) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name), cmp.Compare(a.LibName, b.LibName))
	})
	if groups == nil {
		groups = []RedisGroup{}
	}
	return groups
}
