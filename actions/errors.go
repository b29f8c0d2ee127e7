package actions

import "errors"

// ErrReadOnly is returned by every action while the console runs read-only
// (--read-only or read_only: true in the config).
var ErrReadOnly = errors.New("read-only mode disables every action; run without it (read_only in the configuration) to act")

// ErrViewer refuses every action of a served session whose SSH key is a
// viewer's: viewers watch, operators act.
var ErrViewer = errors.New("this session is a viewer, which is read-only: only an operator's key may act")

// RefusedError is an action the safety policy refuses as a whole, e.g. a
// session action without any filter. Callers map it to exit status 3.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// IsRefused reports whether err is a read-only or safety-policy refusal.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.Is(err, ErrReadOnly) || errors.Is(err, ErrViewer) || errors.As(err, &r)
}
