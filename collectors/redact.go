package collectors

import (
	"net/url"
	"regexp"
	"strings"
)

const redacted = "xxxxx"

// keyValuePassword matches password=... in a libpq key/value DSN, quoted
// ('se cret', with \' escapes) or not.
var keyValuePassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// userinfo matches scheme://user:password@ when a URL does not parse.
var userinfo = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)

// RedactDSN returns a PostgreSQL DSN (URL or key=value form) with its
// password replaced, safe to print or log.
func RedactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return RedactURL(dsn)
	}
	return keyValuePassword.ReplaceAllString(dsn, "${1}"+redacted)
}

// RedactURL returns a URL (redis://, postgres://) with the password of its
// user info and any password query parameter replaced.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		s := userinfo.ReplaceAllString(raw, "${1}"+redacted+"@")
		return keyValuePassword.ReplaceAllString(s, "${1}"+redacted)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, redacted)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// urlPassword returns the password of a URL's user info, even when the
// URL does not parse (its parse error quotes it whole).
func urlPassword(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			pw, _ := u.User.Password()
			return pw
		}
		return ""
	}
	if m := userinfoPassword.FindStringSubmatch(raw); m != nil {
		return m[1]
	}
	return ""
}

var userinfoPassword = regexp.MustCompile(`://[^:/@\s]*:([^@\s]*)@`)

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
