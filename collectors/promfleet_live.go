package collectors

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// LiveTemplates say how slotwatch's live collectors reach one instance of
// the fleet: a DSN or URL template over the instance's labels, or a
// pg_service.conf service name (itself a template). Passwords come from
// the usual places (PGPASSFILE/.pgpass, PGPASSWORD, the template the
// operator wrote), never from a label: a label value is used only when it
// is a plain host name, port or IP address.
type LiveTemplates struct {
	Postgres  string // e.g. postgres://slotwatch@{{.host}}:5432/postgres
	PGService string // e.g. {{.cluster}}-primary; used when Postgres is empty
	Redis     string // e.g. redis://{{.host}}:6379/0
}

// plainLabel is what a label value must look like to be put into a
// target: no '@', '/', '?', '=', '%' or space, so it can add neither
// credentials nor connection parameters.
var plainLabel = regexp.MustCompile(`^[A-Za-z0-9._:\[\]-]+$`)

var plainService = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func (t LiveTemplates) parsed() (pg, redis *template.Template, err error) {
	parse := func(key, text string) (*template.Template, error) {
		if text == "" {
			return nil, nil
		}
		tm, err := template.New(key).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid template (%v); write labels as {{.host}}", key, err)
		}
		return tm, nil
	}
	pgText, pgKey := t.Postgres, "fleet.live.postgres"
	if pgText == "" {
		pgText, pgKey = t.PGService, "fleet.live.pg_service"
	}
	var errs []error
	if pg, err = parse(pgKey, pgText); err != nil {
		errs = append(errs, err)
	}
	if redis, err = parse("fleet.live.redis", t.Redis); err != nil {
		errs = append(errs, err)
	}
	return pg, redis, errors.Join(errs...)
}

// LiveTarget renders the live target of an instance: a PostgreSQL DSN
// (service=NAME for a pg_service.conf name) or a Redis URL. The error is
// one sentence naming the label that is missing or not plain.
func (t LiveTemplates) LiveTarget(in *FleetInstance) (string, error) {
	pg, redis, err := t.parsed()
	if err != nil {
		return "", err
	}
	return t.render(pg, redis, in)
}

// liveTargets fills each instance's Live (redacted: a password the
// template holds is never in a snapshot) or LiveError.
func (t LiveTemplates) liveTargets(pg, redis *template.Template, rows []FleetInstance) {
	if pg == nil && redis == nil {
		return
	}
	for i := range rows {
		target, err := t.render(pg, redis, &rows[i])
		if err != nil {
			rows[i].LiveError = err.Error()
			continue
		}
		if target != "" {
			rows[i].Live = RedactURL(target)
		}
	}
}

func (t LiveTemplates) render(pg, redis *template.Template, in *FleetInstance) (string, error) {
	tm := pg
	if in.Kind == FleetRedis {
		tm = redis
	}
	if tm == nil || (in.Kind != FleetPostgres && in.Kind != FleetRedis) {
		return "", nil
	}
	data := make(map[string]string, len(in.Labels))
	for k, v := range in.Labels {
		if plainLabel.MatchString(v) {
			data[k] = v
		}
	}
	var b strings.Builder
	if err := tm.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s cannot be filled from %s's labels: a label it names is missing or is not a plain host name, port or address (%v)",
			tm.Name(), in.Labels["instance"], templateCause(err))
	}
	out := b.String()
	if in.Kind == FleetPostgres && t.Postgres == "" {
		if !plainService.MatchString(out) {
			return "", fmt.Errorf("fleet.live.pg_service gives %q for %s, which is not a service name; use letters, digits, '.', '_' and '-'", out, in.Labels["instance"])
		}
		return "service=" + out, nil
	}
	return out, nil
}

// templateCause is text/template's reason without its template prefix.
func templateCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
