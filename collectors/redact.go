package collectors

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

const redacted = "xxxxx"

// keyValuePassword finds password= (and sslpassword=) in a libpq key/value
// DSN; the value is found by passwordValueEnd.
var keyValuePassword = regexp.MustCompile(`(?i)password\s*=\s*`)

// nextKeyword is where an unquoted key/value password ends: at the next
// " keyword=".
var nextKeyword = regexp.MustCompile(`\s+[A-Za-z_]+\s*=`)

// queryPassword is a password query parameter of a URL; its value runs to
// the next '&' (a '#' inside it is part of it, not a fragment).
var queryPassword = regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&]*`)

// RedactDSN returns a PostgreSQL DSN (URL or key=value form) with its
// password replaced, safe to print or log, whether or not it parses.
func RedactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return RedactURL(dsn)
	}
	return redactKeyValue(dsn)
}

// RedactURL returns a URL (redis://, postgres://) with the password of its
// user info and any password query parameter replaced. It works on the
// text, not on a parse, so that a URL that does not parse (an unencoded
// '#', '/', '@' or space in the password) is redacted as well: the user
// info runs to the last '@'.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redactKeyValue(raw)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPW := strings.Cut(rest[:at], ":"); hasPW {
			rest = user + ":" + redacted + rest[at:]
		}
	}
	rest = queryPassword.ReplaceAllString(rest, "${1}"+redacted)
	return scheme + "://" + rest
}

func redactKeyValue(dsn string) string {
	var b strings.Builder
	for {
		loc := keyValuePassword.FindStringIndex(dsn)
		if loc == nil {
			b.WriteString(dsn)
			return b.String()
		}
		b.WriteString(dsn[:loc[1]])
		b.WriteString(redacted)
		dsn = dsn[loc[1]+passwordValueEnd(dsn[loc[1]:]):]
	}
}

// passwordValueEnd is the length of a key/value password at the start of
// s: quoted ('se cret', with \' escapes; unclosed runs to the end) or up to
// the next keyword, so that an unquoted password with a space in it (which
// libpq rejects) is still hidden whole.
func passwordValueEnd(s string) int {
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return i + 1
			}
		}
		return len(s)
	}
	end := len(s)
	if loc := nextKeyword.FindStringIndex(s); loc != nil {
		end = loc[0]
	}
	return len(strings.TrimRight(s[:end], " \t\r\n\f\v"))
}

// secretsOf returns every password raw carries, found on its text as the
// redaction does, decoded and not.
func secretsOf(raw string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if dec, err := url.PathUnescape(s); err == nil && dec != s {
			out = append(out, dec)
		}
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, hasPW := strings.Cut(rest[:at], ":"); hasPW {
				add(pw)
			}
		}
		for _, m := range queryPassword.FindAllStringSubmatchIndex(rest, -1) {
			add(rest[m[3]:m[1]])
		}
	}
	for _, loc := range keyValuePassword.FindAllStringIndex(raw, -1) {
		v := raw[loc[1]:]
		v = v[:passwordValueEnd(v)]
		add(v)
		if unq := strings.Trim(v, "'"); unq != v {
			add(unq)
		}
	}
	return out
}

// leakWindow is the length of the password fragments looked for in a
// driver's message: parsers quote pieces of their input (a '#' turns the
// rest of a password into a "fragment", an '@' part of it into a "port").
const leakWindow = 3

// leaks reports whether msg shows any piece of a secret (or all of a
// shorter one), as is or as Go's %q quotes it.
func leaks(msg string, secrets []string) bool {
	for _, s := range secrets {
		for _, form := range []string{s, strings.Trim(strconv.Quote(s), `"`)} {
			if len(form) <= leakWindow {
				if strings.Contains(msg, form) {
					return true
				}
				continue
			}
			for i := 0; i+leakWindow <= len(form); i++ {
				if strings.Contains(msg, form[i:i+leakWindow]) {
					return true
				}
			}
		}
	}
	return false
}

// RedactError describes why raw (a DSN or URL) was rejected by its parser,
// without any part of its password: a problem slotwatch recognises itself
// is named; otherwise the parser's message is used only when it shows no
// piece of the password.
func RedactError(raw string, err error) string {
	if d := diagnoseURL(raw); d != "" {
		return d
	}
	msg := err.Error()
	secrets := secretsOf(raw)
	if leaks(msg, secrets) {
		return "it does not parse (the parser's message is left out: it quotes the password)"
	}
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	return msg
}

// diagnoseURL names what makes a URL's authority invalid, quoting only the
// host and port (after the last '@'), never the user info.
func diagnoseURL(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	authority := rest
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if c, bad := mustEncode(rest[:at]); bad {
			return encodeAdvice(c)
		}
		authority = rest[at+1:]
	}
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	for _, hostport := range strings.Split(authority, ",") {
		if d := diagnoseHostPort(hostport); d != "" {
			return d
		}
	}
	return ""
}

func encodeAdvice(c byte) string {
	return fmt.Sprintf("the user name or password contains %q, which a URL needs percent-encoded (%%%02X)", string(c), c)
}

// mustEncode returns the first character of a URL's user info that must be
// percent-encoded there.
func mustEncode(userinfo string) (byte, bool) {
	for i := 0; i < len(userinfo); i++ {
		c := userinfo[i]
		switch {
		case c == '%':
			if i+2 >= len(userinfo) || !isHex(userinfo[i+1]) || !isHex(userinfo[i+2]) {
				return c, true
			}
		case c <= ' ' || c >= 0x7f || strings.IndexByte("#/?@[]\"<>\\^`{|}", c) >= 0:
			return c, true
		}
	}
	return 0, false
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func diagnoseHostPort(hostport string) string {
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.Index(hostport, "]")
		if end < 0 {
			return fmt.Sprintf("the IPv6 address %q lacks its closing ']'", hostport)
		}
		host, port = hostport[:end+1], strings.TrimPrefix(hostport[end+1:], ":")
	} else if i := strings.LastIndex(hostport, ":"); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if port == "" {
		return ""
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Sprintf("the port %q of host %q is not a number from 1 to 65535", port, host)
	}
	return ""
}

// emptyHost reports whether a DSN names no host, so that the driver's
// default (PGHOST, else the local socket) is used.
func emptyHost(dsn string) bool {
	if os.Getenv("PGHOST") != "" {
		return false
	}
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		authority, query := rest, ""
		if i := strings.IndexAny(rest, "/?"); i >= 0 {
			authority = rest[:i]
		}
		if i := strings.Index(rest, "?"); i >= 0 {
			query = rest[i:]
		}
		host, _, _ := strings.Cut(authority, ":")
		return host == "" && !strings.Contains(query, "host=")
	}
	return !regexp.MustCompile(`(?i)(^|\s)host(addr)?\s*=`).MatchString(dsn)
}

// scrub removes secrets from a message that a driver built, as a last line
// of defence: errors are printed to the terminal and to recordings.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}

// ScrubSecrets removes every password that raw (a DSN or URL) carries from
// a message a driver or dialer built about it: the one scrubber for the
// collectors and the actions alike.
func ScrubSecrets(msg, raw string) string { return scrub(msg, secretsOf(raw)...) }

// ConnectRefusal is the one sentence for a server that refused a login, led
// by what decided it (a wrong password, pg_hba.conf, a missing database),
// told apart by SQLSTATE; ok is false when err is no such refusal. pgx lists
// every attempt (sslmode=prefer first tries TLS), which would put the
// irrelevant TLS refusal in front of the answer.
func ConnectRefusal(target string, err error) (string, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", false
	}
	// The server's host:port decided; the database is not the point.
	target, _, _ = strings.Cut(target, "/")
	user := "?"
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Config != nil {
		user = ce.Config.User
	}
	switch pgErr.Code {
	case "28P01":
		return fmt.Sprintf("the password for user %s was refused by %s; check the password in the DSN, PGPASSWORD or ~/.pgpass (SQLSTATE 28P01)", user, target), true
	case "28000":
		return fmt.Sprintf("%s does not let user %s connect: %s (SQLSTATE 28000); check pg_hba.conf or connect as another role", target, user, pgErr.Message), true
	case "3D000":
		return fmt.Sprintf("%s refused user %s: %s (SQLSTATE 3D000); check the database in the DSN", target, user, pgErr.Message), true
	}
	return "", false
}
