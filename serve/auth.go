package serve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Identity is who an authenticated SSH session is.
type Identity struct {
	User        string // SSH user name
	Name        string // the key's comment in authorized_keys, else User
	Fingerprint string // SHA256:… of the public key
	Addr        string // client address (host only)
	Operator    bool   // may act; otherwise a read-only viewer
}

// Label is how presence lists the identity: "kim (operator)" or "marcus".
func (id Identity) Label() string {
	if id.Operator {
		return id.Name + " (operator)"
	}
	return id.Name
}

// authorizedKey is one line of the authorized_keys file.
type authorizedKey struct {
	key     gossh.PublicKey
	comment string
}

// readAuthorizedKeys parses an OpenSSH authorized_keys file. Blank lines and
// comments are skipped; a line that is not a key is an error naming the
// line, so a typo never silently locks an engineer out.
func readAuthorizedKeys(path string) ([]authorizedKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the authorized keys %s: %w", path, err)
	}
	var keys []authorizedKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, comment, _, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d is not a public key: %w", path, n, err)
		}
		keys = append(keys, authorizedKey{key: k, comment: strings.TrimSpace(comment)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the authorized keys %s: %w", path, err)
	}
	return keys, nil
}

// CheckAuthorizedKeys reports why serve cannot start with this file: it is
// missing, unreadable, malformed or lists no key. Nobody could log in, and
// "anyone gets in" is never the fallback.
func CheckAuthorizedKeys(path string) error {
	if path == "" {
		return errors.New("serve needs an authorized_keys file (OpenSSH format) listing the keys that may log in; give one and start it again")
	}
	keys, err := readAuthorizedKeys(path)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("the authorized keys file %s lists no key: add the engineers' public keys", path)
	}
	return nil
}

// extName carries the matched key's comment from authentication to the
// session (the connection's permissions survive the handshake).
const extName = "slotwatch-key-name"

// publicKeyHandler re-reads the file on every login, so adding or removing
// an engineer's key needs no restart.
func (s *Server) publicKeyHandler(ctx ssh.Context, key ssh.PublicKey) bool {
	keys, err := readAuthorizedKeys(s.cfg.AuthorizedKeys)
	if err != nil {
		s.logf("login refused for %s: %v", ctx.RemoteAddr(), err)
		return false
	}
	i := slices.IndexFunc(keys, func(k authorizedKey) bool { return ssh.KeysEqual(k.key, key) })
	if i < 0 {
		// A client offers its keys one by one: each refusal is a line, so
		// the log shows which key someone tried from where.
		s.logf("refused key %s from %s: it is not in %s", gossh.FingerprintSHA256(key), ctx.RemoteAddr(), s.cfg.AuthorizedKeys)
		return false
	}
	perms := ctx.Permissions()
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[extName] = keys[i].comment
	return true
}

// identify names an authenticated session and decides its role: an
// operator's key is listed in serve.operators by fingerprint or comment.
func (s *Server) identify(sess ssh.Session) Identity {
	id := Identity{User: sess.User(), Name: sess.User()}
	if perms := sess.Permissions(); perms.Permissions != nil {
		if c := perms.Extensions[extName]; c != "" {
			id.Name = c
		}
	}
	if k := sess.PublicKey(); k != nil {
		id.Fingerprint = gossh.FingerprintSHA256(k)
	}
	id.Addr = hostOf(sess.RemoteAddr().String())
	id.Operator = slices.ContainsFunc(s.cfg.Operators, func(o string) bool {
		o = strings.TrimSpace(o)
		return o != "" && (o == id.Fingerprint || o == id.Name)
	})
	return id
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
