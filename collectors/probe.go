package collectors

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLStateTooManyConnections is the SQLSTATE of every "slots exhausted"
// refusal: too many clients, reserved slots, per-role and per-database limits.
const SQLStateTooManyConnections = "53300"

// probe opens and closes a fresh connection, as the application does: it
// sees the refusals the application sees. It never keeps a connection.
type probe struct {
	cfg      ProbeConfig
	target   string
	password string
}

func newProbe(cfg ProbeConfig) *probe {
	p := &probe{cfg: cfg, target: RedactDSN(cfg.DSN)}
	if cc, err := pgx.ParseConfig(cfg.DSN); err == nil {
		p.target = pgTarget(&cc.Config)
		p.password = cc.Password
	}
	return p
}

func (p *probe) interval() time.Duration { return p.cfg.Interval }
func (p *probe) close()                  {}

func (p *probe) collect(ctx context.Context) func(*Snapshot) {
	res, sourceErr := p.attempt(ctx)
	return func(s *Snapshot) {
		s.Probe = res
		if sourceErr != "" {
			s.Errors[SourceProbe] = sourceErr
		} else {
			delete(s.Errors, SourceProbe)
		}
	}
}

// attempt connects once. A refusal for lack of slots (53300) is the probe's
// finding, not a failure of the probe; any other failure (unreachable
// server, wrong password) is also returned as the source's error.
func (p *probe) attempt(ctx context.Context) (*ProbeResult, string) {
	res := &ProbeResult{SampledAt: time.Now()}
	begin := time.Now()
	conn, err := connectPG(ctx, p.cfg.DSN, "slotwatch-probe", 0, p.cfg.ConnectTimeout)
	res.ConnectMS = float64(time.Since(begin).Microseconds()) / 1000
	if err == nil {
		res.OK = true
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
		return res, ""
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		res.SQLState = pgErr.Code
		res.Error = scrub(pgErr.Message, p.password)
		if pgErr.Code == SQLStateTooManyConnections {
			return res, ""
		}
	} else {
		res.Error = scrub(pgErrorText(err), p.password)
	}
	return res, scrub(probeFailed(p.target, err), p.password)
}

func probeFailed(target string, err error) string {
	msg := connectFailed("the connect probe", target, err).Error()
	return strings.Replace(msg, "check the DSN", "check probe.dsn (or --pg)", 1)
}
