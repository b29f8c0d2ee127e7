package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestLiveServers runs the real collectors and bridge against throwaway
// PostgreSQL and Redis servers, checks the dashboard shows the sessions and
// clients the test holds, then terminates one session through the dialog
// with the real actions.Service and proves with pg_stat_activity it is gone.
func TestLiveServers(t *testing.T) {
	if testing.Short() {
		t.Skip("real-server test skipped in -short mode")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 20})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 50})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pg.Psql(t, "postgres", "CREATE ROLE webapp LOGIN")
	var held []*pgx.Conn
	for i := 0; i < 5; i++ {
		c, err := pgx.Connect(ctx, pg.DSNFor("webapp", "postgres")+"&application_name=webapp-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		held = append(held, c)
	}
	if _, err := held[4].Exec(ctx, "BEGIN; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		c := redis.NewClient(&redis.Options{Addr: rds.Addr, ClientName: fmt.Sprintf("leak-%d", i), PoolSize: 1})
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}

	snaps := collectors.NewHub()
	frameHub := analysis.NewFrameHub()
	go analysis.Stream(ctx, analysis.NewPipeline(analysis.DefaultRules()), snaps.Subscribe("analysis"), frameHub)
	cfg := collectors.Config{
		PG:    &collectors.PGConfig{DSN: pg.DSN, Interval: 200 * time.Millisecond},
		Redis: &collectors.RedisConfig{URL: rds.URL, Interval: 200 * time.Millisecond},
	}
	if _, err := collectors.Start(ctx, cfg, snaps); err != nil {
		t.Fatal(err)
	}
	frames := make(chan analysis.Frame, 1)
	go Bridge(ctx, frameHub.Subscribe("viewer"), nil, func(msg tea.Msg) {
		if f, ok := msg.(frameMsg); ok {
			select {
			case frames <- f.frame:
			default:
			}
		}
	})
	frame := waitFrame(t, frames, func(f analysis.Frame) bool {
		return f.Snapshot.Postgres != nil && countApp(f, "webapp-test") == 5 && f.Snapshot.Redis != nil &&
			len(f.Snapshot.Redis.Clients) >= 7
	})

	conn, err := actions.DialPostgres(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	audit, _ := actions.OpenAuditLog("")
	svc := actions.NewService(conn, nil, actions.DefaultPolicy(), audit, actions.Operator{User: "test"})

	m := newTestModel(t, Options{Mitigator: svc, Now: time.Now}, frame, 160, 45)
	view := m.View()
	pgs := frame.Snapshot.Postgres
	if want := fmt.Sprintf("PG %d/%d used", pgs.Total+pgs.OwnConnections, pgs.Usable()); !strings.Contains(view, want) || pgs.Usable() != 17 || pgs.OwnConnections < 1 {
		t.Fatalf("header should read %q (used counts slotwatch's own connections; usable = 20 - 3 reserved):\n%s", want, view)
	}
	if !strings.Contains(view, "leak-#") || !strings.Contains(view, fmt.Sprintf("Redis %d/50 clients", frame.Snapshot.Redis.ConnectedClients)) {
		t.Fatalf("Redis pane should show the leak-# group and the client count:\n%s", view)
	}

	// Filter to the test's sessions, mark the first idle one and terminate it.
	m = update(update(m, keyMsg("/")), keyMsg("webapp-test"))
	m = update(update(m, keyMsg("enter")), keyMsg("i"))
	target := m.sessions.current()
	if target == nil || target.ApplicationName != "webapp-test" || len(m.sessions.rows) != 4 {
		t.Fatalf("filter should leave the 4 idle webapp-test sessions, has %d", len(m.sessions.rows))
	}
	m = update(m, keyMsg(" "))
	next, cmd := m.Update(keyMsg("K"))
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || len(m.confirm.session().Targets) != 1 || m.confirm.session().Targets[0].PID != target.PID {
		t.Fatalf("the dialog should list pid %d only; view:\n%s", target.PID, m.View())
	}
	next, cmd = m.Update(keyMsg("y"))
	m = update(next.(Model), cmd())
	if !strings.Contains(m.footer.text, "terminate: 1 done") {
		t.Fatalf("footer %q", m.footer.text)
	}
	alive := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE pid = "+strconv.Itoa(int(target.PID)))
	others := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'webapp-test'")
	if alive != "0" || others != "4" {
		t.Fatalf("after terminating pid %d: %s left with that pid, %s webapp-test sessions (want 0 and 4)", target.PID, alive, others)
	}
}

func countApp(f analysis.Frame, app string) int {
	n := 0
	for _, s := range f.Snapshot.Postgres.Sessions {
		if s.ApplicationName == app {
			n++
		}
	}
	return n
}

func waitFrame(t *testing.T, frames <-chan analysis.Frame, ok func(analysis.Frame) bool) analysis.Frame {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f := <-frames:
			if ok(f) {
				return f
			}
		case <-timeout:
			t.Fatal("no frame with the held sessions and clients within 20 s")
		}
	}
}
