package collectors

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLStateTooManyConnections is the SQLSTATE of every "slots exhausted"
// refusal: too many clients, reserved slots, per-role and per-database limits.
const SQLStateTooManyConnections = "53300"

const probeApp = "slotwatch-probe"

// probe opens and closes a fresh connection, as the application does: it
// sees the refusals the application sees. It never keeps a connection.
type probe struct {
	cfg ProbeConfig
	ep  pgEndpoint
	own *ownBackends
	// failures counts the failed attempts for the refused-connections
	// count's fallback (pglog.go).
	failures *probeFailures
}

func newProbe(cfg ProbeConfig, own *ownBackends) *probe {
	return &probe{cfg: cfg, ep: newEndpoint(cfg.DSN), own: own}
}

func (p *probe) interval() time.Duration { return p.cfg.Interval }
func (p *probe) close()                  {}

func (p *probe) collect(ctx context.Context) func(*Snapshot) {
	res, sourceErr := p.attempt(ctx)
	if !res.OK && ctx.Err() == nil {
		p.failures.add(res.SampledAt)
	}
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
	done := p.own.connecting(p.ep.server, probeApp)
	conn, err := connectPG(ctx, p.cfg.DSN, probeApp, 0, p.cfg.ConnectTimeout)
	res.ConnectMS = float64(time.Since(begin).Microseconds()) / 1000
	if err == nil {
		res.OK = true
		// Open for a moment, but slotwatch's all the same: the collector
		// of its server leaves it out.
		pid := conn.PgConn().PID()
		p.own.opened(probeApp, p.ep.server, pid)
		done()
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
		p.own.closed(probeApp, p.ep.server, pid)
		return res, ""
	}
	done()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		res.SQLState = pgErr.Code
		res.Error = scrub(pgErr.Message, p.ep.password)
		res.Reason = res.Error
		if pgErr.Code == SQLStateTooManyConnections {
			return res, ""
		}
	} else {
		res.Error = scrub(pgErrorText(err), p.ep.password)
	}
	return res, scrub(probeFailed(p.ep.target, err), p.ep.password)
}

func probeFailed(target string, err error) string {
	msg := connectFailed("the connect probe", target, err).Error()
	return strings.Replace(msg, "check the DSN", "check probe.dsn (or the PostgreSQL target)", 1)
}
