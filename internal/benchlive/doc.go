// Package benchlive measures what one refresh of the real `slotwatch watch`
// costs, the way an SRE would compare it with pg_activity or pgcenter: the
// binary runs in tmux at 200×50 against a throwaway PostgreSQL holding N
// backends (60 % idle, 20 % idle in transaction, 10 % active, 10 % waiting on
// a row lock) and a throwaway Redis holding M clients, and the test reports
// whole-process CPU per refresh (/proc), peak RSS, PostgreSQL server time and
// queries per refresh (pg_stat_statements) beside PostgreSQL's own floor for
// listing every backend, the bytes written to the terminal per second (tmux
// pipe-pane) and Redis-side time per CLIENT LIST (INFO commandstats). When
// pg_activity is installed it is measured the same way on the same server
// and load. scripts/bench-live runs it; it is a measurement, not a pass/fail
// check: a benchmark that fails only when a number could not be read.
package benchlive
