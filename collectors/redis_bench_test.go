package collectors

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// BenchmarkRedisCollect10000 is one Redis tick that reads CLIENT LIST with
// 10,000 held clients (INFO, CLIENT ID and CLIENT LIST in one round trip,
// then parse and group). It holds 10,000 sockets, so it runs only with
// SLOTWATCH_BENCH_REDIS=1.
func BenchmarkRedisCollect10000(b *testing.B) {
	if os.Getenv("SLOTWATCH_BENCH_REDIS") != "1" {
		b.Skip("set SLOTWATCH_BENCH_REDIS=1 to hold 10,000 Redis clients")
	}
	r := testserver.StartRedis(b, testserver.RedisOptions{MaxClients: 10100})
	var conns []*redisConn
	for i := range 10000 {
		c, err := dialRedis("tcp", r.Addr)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := c.do("CLIENT SETNAME analytics-" + string(rune('a'+i%20))); err != nil {
			b.Fatal(err)
		}
	}
	defer runtime.KeepAlive(conns)
	c := newRedisCollector(RedisConfig{URL: r.URL, Interval: time.Second, Timeout: 10 * time.Second})
	defer c.close()
	ctx := context.Background()
	s := Snapshot{Errors: map[string]string{}}
	cpuBefore := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		c.listAt = time.Time{} // every tick reads CLIENT LIST
		c.collect(ctx)(&s)
		if len(s.Errors) != 0 || len(s.Redis.Clients) != 10000 {
			b.Fatalf("a tick listed %d clients: %v", len(s.Redis.Clients), s.Errors)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpuBefore).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
