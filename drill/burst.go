package drill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// thinkTime is the work apply_to_job does between its check and its insert
// (validation, matching). It is what makes the race window; with the row
// lock it only makes the applications queue.
const thinkTime = 50 * time.Millisecond

// firstBurstCandidate is the first candidate the seed has not applied with.
const firstBurstCandidate = 1001

// runBurst fires concurrent applications to BurstJob, one per idle worker,
// released at the same instant, using apply_to_job's check-then-insert.
func (d *Drill) runBurst(ctx context.Context) (BurstResult, error) {
	res := BurstResult{Job: BurstJob, Fixed: d.cfg.Fixed}
	workers := d.claimIdle(d.cfg.Burst)
	defer func() {
		for _, s := range workers {
			s.use.Unlock()
		}
	}()
	if len(workers) == 0 {
		return res, errors.New("no idle session is left to send the application burst")
	}
	const jobSQL = `SELECT "title", "max_applications", (SELECT COUNT(*) FROM "applications" WHERE "job_id" = $1) FROM "jobs" WHERE "id" = $1`
	if err := workers[0].conn.QueryRow(ctx, jobSQL, BurstJob).Scan(&res.Title, &res.Limit, &res.Before); err != nil {
		return res, fmt.Errorf("read job %d before the burst: %w", BurstJob, err)
	}
	start := make(chan struct{})
	outcomes := make([]error, len(workers))
	accepted := make([]bool, len(workers))
	var read *latch
	if d.setup.pooled {
		// A pooler opens its server connections one by one: without the
		// latch the first application commits before the last has a
		// server connection, and nothing runs concurrently.
		read = newLatch(len(workers), burstLatchWait)
	}
	var wg sync.WaitGroup
	for i, s := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			accepted[i], outcomes[i] = applyToJob(ctx, s.conn, BurstJob, int64(firstBurstCandidate+i), d.cfg.Fixed, read)
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(outcomes...); err != nil {
		return res, fmt.Errorf("the application burst failed: %w", err)
	}
	for _, ok := range accepted {
		if ok {
			res.Accepted++
		} else {
			res.Refused++
		}
	}
	err := workers[0].conn.QueryRow(ctx, `SELECT COUNT(*) FROM "applications" WHERE "job_id" = $1`, BurstJob).Scan(&res.After)
	if err != nil {
		return res, fmt.Errorf("count the applications of job %d after the burst: %w", BurstJob, err)
	}
	return res, nil
}

// applyToJob is TalentFlow's apply_to_job: count, compare with the limit,
// insert. Without fixed, concurrent calls all see the same count.
// read, when set, is passed once the count is read: the applications that
// the pool lets run at once then all read before any of them inserts.
func applyToJob(ctx context.Context, c *pgx.Conn, job, candidate int64, fixed bool, read *latch) (bool, error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	jobSQL := `SELECT "max_applications" FROM "jobs" WHERE "id" = $1`
	if fixed {
		jobSQL += ` FOR UPDATE`
	}
	var limit, count int64
	if err := tx.QueryRow(ctx, jobSQL, job).Scan(&limit); err != nil {
		return false, fmt.Errorf("read job %d: %w", job, err)
	}
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM "applications" WHERE "job_id" = $1`, job).Scan(&count); err != nil {
		return false, fmt.Errorf("count applications of job %d: %w", job, err)
	}
	read.arrive()
	if count >= limit {
		return false, tx.Commit(ctx)
	}
	time.Sleep(thinkTime)
	if _, err := tx.Exec(ctx, `INSERT INTO "applications" ("job_id", "candidate_id") VALUES ($1, $2)`, job, candidate); err != nil {
		return false, fmt.Errorf("insert application of candidate %d to job %d: %w", candidate, job, err)
	}
	return true, tx.Commit(ctx)
}

// claimIdle locks up to n idle sessions for exclusive use.
func (d *Drill) claimIdle(n int) []*heldConn {
	var out []*heldConn
	for _, s := range d.sessionsOf(kindIdle) {
		if len(out) == n {
			break
		}
		if s.use.TryLock() {
			out = append(out, s)
		}
	}
	return out
}

// burstLatchWait bounds the latch: with a pool smaller than the burst (or
// FOR UPDATE, which queues the applications on the job row) not every
// application reaches it, and the rest go on after this long.
const burstLatchWait = 2 * time.Second

// latch lets its callers through once n have arrived or wait has passed
// since it was made. A nil latch never waits.
type latch struct {
	mu       sync.Mutex
	n        int
	open     chan struct{}
	deadline time.Time
}

func newLatch(n int, wait time.Duration) *latch {
	return &latch{n: n, open: make(chan struct{}), deadline: time.Now().Add(wait)}
}

func (l *latch) arrive() {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.n--; l.n == 0 {
		close(l.open)
	}
	l.mu.Unlock()
	t := time.NewTimer(time.Until(l.deadline))
	defer t.Stop()
	select {
	case <-l.open:
	case <-t.C:
	}
}
