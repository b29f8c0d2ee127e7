package metrics

import "github.com/slotwatch/slotwatch/collectors"

// collectRefused exports the refused-connection counter of the primary
// PostgreSQL server, every counted SQLSTATE present (zero-filled) so that
// rate() has a start; with several servers it carries the primary's name.
// Nothing is exported while the log is not readable: a counter stuck at 0
// would read as "no refusal".
func collectRefused(d, ds *descs, s *collectors.Snapshot, emit emitFunc) {
	r := s.Refused
	if r == nil || !r.Readable {
		return
	}
	for i := range s.Servers {
		if sv := &s.Servers[i]; sv.Primary && sv.Kind == collectors.SourcePostgres {
			d, emit = ds, withServer(emit, sv.Name)
			break
		}
	}
	for _, state := range collectors.RefusalSQLStates {
		emit(d.pgRefused, counter, float64(r.BySQLState[state]), label(state))
	}
}
