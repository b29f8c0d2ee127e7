package main

// Several servers of a kind (a primary and its replicas, several Redis
// instances) in one console: the config file's pg: and redis: lists, the
// repeatable --pg and --redis flags, and how a command picks one of them.

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/slotwatch/slotwatch/collectors"
)

// Server kinds, as collectors names its sources.
const (
	kindPG    = collectors.SourcePostgres
	kindRedis = collectors.SourceRedis
)

// serverEntry is one configured server. Name is empty when none was given;
// label() is then how screens and --server call it.
type serverEntry struct {
	Name    string
	Target  string // PostgreSQL DSN or Redis URL
	Cluster bool   // Redis Cluster (also implied by a redis+cluster:// URL)
}

// label is the server's name: the configured one, else host:port from the
// target (never a password), else the redacted target.
func (e serverEntry) label(kind string) string {
	if e.Name != "" {
		return e.Name
	}
	if hp := targetHostPort(kind, e.Target); hp != "" {
		return hp
	}
	return collectors.RedactDSN(e.Target)
}

// targetHostPort is host:port of a DSN or URL, "" when it cannot be read.
func targetHostPort(kind, target string) string {
	if kind == kindPG {
		cfg, err := pgconn.ParseConfig(target)
		if err != nil {
			return ""
		}
		return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	// A cluster is called by its first seed node, as collectors calls it.
	u := target
	for _, scheme := range []string{"redis+cluster://", "rediss+cluster://"} {
		if len(target) > len(scheme) && strings.EqualFold(target[:len(scheme)], scheme) {
			first, _, _ := strings.Cut(target[len(scheme):], ",")
			first, _, _ = strings.Cut(first, "/")
			u = "redis://" + first
		}
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		return ""
	}
	return opt.Addr
}

// serverList is the pg: or redis: key of the config file: one target as a
// string (as before), or a list whose items are a target string or a map
// {name, dsn} (pg) / {name, url, cluster} (redis).
type serverList struct {
	entries []serverEntry
	// targetKey is "dsn" for pg:, "url" for redis:; set before decoding.
	targetKey string
}

// serverItemKeys are the keys a list item's map may hold, by target key.
var serverItemKeys = map[string][]string{
	"dsn": {"name", "dsn"},
	"url": {"name", "url", "cluster"},
}

func (l *serverList) decode(n *yaml.Node, key string) error {
	l.targetKey = key
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" || n.Value == "" {
			return nil
		}
		l.entries = []serverEntry{{Target: n.Value}}
		return nil
	case yaml.SequenceNode:
		for i, item := range n.Content {
			e, err := l.decodeItem(item)
			if err != nil {
				return fmt.Errorf("line %d: %s[%d]: %v", item.Line, l.section(), i, err)
			}
			l.entries = append(l.entries, e)
		}
		return nil
	}
	return fmt.Errorf("line %d: %s must be a %s string or a list of them", n.Line, l.section(), l.noun())
}

// pgList and redisList are the config file's pg: and redis: keys.
type (
	pgList    struct{ serverList }
	redisList struct{ serverList }
)

func (l *pgList) UnmarshalYAML(n *yaml.Node) error    { return l.decode(n, "dsn") }
func (l *redisList) UnmarshalYAML(n *yaml.Node) error { return l.decode(n, "url") }

func (l *serverList) section() string {
	if l.targetKey == "dsn" {
		return "pg"
	}
	return "redis"
}

func (l *serverList) noun() string {
	if l.targetKey == "dsn" {
		return "DSN"
	}
	return "URL"
}

func (l *serverList) decodeItem(n *yaml.Node) (serverEntry, error) {
	if n.Kind == yaml.ScalarNode {
		if n.Value == "" {
			return serverEntry{}, fmt.Errorf("is empty; give a %s", l.noun())
		}
		return serverEntry{Target: n.Value}, nil
	}
	if n.Kind != yaml.MappingNode {
		return serverEntry{}, fmt.Errorf("must be a %s or a map with %s", l.noun(), strings.Join(serverItemKeys[l.targetKey], ", "))
	}
	var e serverEntry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return e, fmt.Errorf("%s must be a single value", k)
		}
		switch {
		case k == "name":
			e.Name = v.Value
		case k == l.targetKey:
			e.Target = v.Value
		case k == "cluster" && l.targetKey == "url":
			b, err := strconv.ParseBool(v.Value)
			if err != nil {
				return e, fmt.Errorf("cluster %s is not true or false", display(v.Value))
			}
			e.Cluster = b
		default:
			return e, fmt.Errorf("unknown key %s (use %s)", display(k), strings.Join(serverItemKeys[l.targetKey], ", "))
		}
	}
	if e.Target == "" {
		return e, fmt.Errorf("has no %s", l.targetKey)
	}
	if e.Name != "" {
		if err := checkServerName(e.Name); err != nil {
			return e, err
		}
	}
	return e, nil
}

// serverNameRE is what a server name may be: one word a shell and a
// dashboard show as typed, with no ':' or '/' so that --pg NAME=URL is
// never confused with a URL.
var serverNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

func checkServerName(name string) error {
	if !serverNameRE.MatchString(name) {
		return fmt.Errorf("server name %s may use only letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit)", display(name))
	}
	return nil
}

// serverFlag is a repeatable --pg / --redis: each value is a target, or
// NAME=URL where NAME is a server name and URL has a scheme (postgres://,
// redis://, redis+cluster://…). A key=value DSN ("host=db port=5432") is
// always a whole target: name those in the config file.
type serverFlag []serverEntry

func (f *serverFlag) String() string {
	if f == nil {
		return ""
	}
	parts := make([]string, len(*f))
	for i, e := range *f {
		parts[i] = collectors.RedactDSN(e.Target)
		if e.Name != "" {
			parts[i] = e.Name + "=" + parts[i]
		}
	}
	return strings.Join(parts, ",")
}

func (f *serverFlag) Set(v string) error {
	e, err := parseServerArg(v)
	if err != nil {
		return err
	}
	*f = append(*f, e)
	return nil
}

// parseServerArg reads one --pg / --redis value.
func parseServerArg(v string) (serverEntry, error) {
	if v == "" {
		return serverEntry{}, badValue{problem: "is empty"}
	}
	name, target, ok := strings.Cut(v, "=")
	if ok && strings.Contains(target, "://") && !strings.ContainsAny(name, ":/ @") {
		if err := checkServerName(name); err != nil {
			return serverEntry{}, badValue{value: name, problem: "is not a server name: use letters, digits, '.', '_' and '-'"}
		}
		return serverEntry{Name: name, Target: target}, nil
	}
	return serverEntry{Target: v}, nil
}

// servers is every configured server of both kinds, in configuration
// order (PostgreSQL first), as --server and the error listing them see it.
type servers struct {
	pg, redis []serverEntry
}

// names of the servers of one kind.
func (s servers) names(kind string) []string {
	list := s.of(kind)
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.label(kind)
	}
	return out
}

func (s servers) of(kind string) []serverEntry {
	if kind == kindPG {
		return s.pg
	}
	return s.redis
}

// several reports whether more than one server is configured in all:
// the console then shows a fleet and snapshots list servers[].
func (s servers) several() bool { return len(s.pg)+len(s.redis) > 1 }

// pick returns the server of kind that --server names: the named one, or
// the only one when name is empty. With several servers of that kind and
// no name it refuses and lists them: an action must never pick one for
// the operator.
func (s servers) pick(kind, name string) (serverEntry, error) {
	list := s.of(kind)
	noun := kindNoun(kind)
	if name == "" {
		switch len(list) {
		case 0:
			return serverEntry{}, nil
		case 1:
			return list[0], nil
		}
		return serverEntry{}, usageError{fmt.Errorf("%d %s servers are configured (%s): name the one to act on with --server NAME",
			len(list), noun, strings.Join(s.names(kind), ", "))}
	}
	for _, e := range list {
		if e.label(kind) == name {
			return e, nil
		}
	}
	if len(list) == 0 {
		return serverEntry{}, usageError{fmt.Errorf("--server %s names no %s server, and none is configured", display(name), noun)}
	}
	return serverEntry{}, usageError{fmt.Errorf("--server %s names no %s server; the configured ones are %s",
		display(name), noun, strings.Join(s.names(kind), ", "))}
}

// has reports whether name is a server of kind.
func (s servers) has(kind, name string) bool {
	for _, e := range s.of(kind) {
		if e.label(kind) == name {
			return true
		}
	}
	return false
}

func kindNoun(kind string) string {
	if kind == kindPG {
		return "PostgreSQL"
	}
	return "Redis"
}

// checkServerLists decodes the pg: and redis: keys of the document's
// top-level mapping, so an error names the line as written.
func checkServerLists(root *yaml.Node) error {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		var l serverList
		switch root.Content[i].Value {
		case "pg":
			if err := l.decode(root.Content[i+1], "dsn"); err != nil {
				return err
			}
		case "redis":
			if err := l.decode(root.Content[i+1], "url"); err != nil {
				return err
			}
		}
	}
	return nil
}
