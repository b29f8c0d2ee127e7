package collectors

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/promtest"
)

// postAlerts sends alerts to a real Alertmanager as Prometheus would.
func postAlerts(t *testing.T, am *promtest.Server, alerts []map[string]any) {
	t.Helper()
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting alerts: HTTP %d", resp.StatusCode)
	}
}

// countingProxy forwards TCP to addr and counts the connections it accepts,
// so a test can see whether the collector keeps one alive.
func countingProxy(t *testing.T, addr string) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			up, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return l.Addr().String(), &n
}

func TestAlertingFromRealAlertmanager(t *testing.T) {
	t.Parallel()
	am := promtest.StartAlertmanager(t)
	now := time.Now().UTC()
	postAlerts(t, am, []map[string]any{
		{"labels": map[string]string{"alertname": "PostgresConnectionLimitReached", "datname": "talentflow", "severity": "critical", "instance": "db:9187"},
			"annotations": map[string]string{"summary": "95 connections"}, "startsAt": now.Add(-time.Minute)},
		{"labels": map[string]string{"alertname": "BillingDown", "datname": "billing"}, "startsAt": now},
		{"labels": map[string]string{"alertname": "HostDiskFull", "instance": "db:9100"}, "startsAt": now},
	})
	proxy, conns := countingProxy(t, am.Addr)
	c, err := newAlertingCollector(AlertingConfig{Alertmanager: "http://monitor:s3cret@" + proxy, Databases: []string{"talentflow"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var snap Snapshot
	// Alertmanager shows posted alerts at once, but give it a moment.
	for i := 0; i < 50; i++ {
		snap = Snapshot{Errors: map[string]string{}}
		c.collect(ctx)(&snap)
		if snap.Alerting != nil && len(snap.Alerting.Alerts) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if msg := snap.Errors[SourceAlerting]; msg != "" {
		t.Fatalf("alerting error: %s", msg)
	}
	a := snap.Alerting
	if a == nil || len(a.Alerts) != 2 {
		t.Fatalf("want the talentflow alert and the one about no database, got %+v", a)
	}
	names := a.Alerts[0].Name + "," + a.Alerts[1].Name
	if names != "HostDiskFull,PostgresConnectionLimitReached" {
		t.Errorf("alerts %s; want HostDiskFull,PostgresConnectionLimitReached (billing's filtered out)", names)
	}
	for _, x := range a.Alerts {
		if !x.External || x.State != ExternalFiring || x.Source != "alertmanager" {
			t.Errorf("alert %+v should be external, firing, from alertmanager", x)
		}
	}
	if pg := a.Alerts[1]; pg.Summary != "95 connections" || pg.Severity != "critical" || pg.Since.IsZero() {
		t.Errorf("alert details lost: %+v", pg)
	}
	if a.Alertmanager != proxy || strings.Contains(a.Alertmanager, "s3cret") {
		t.Errorf("Alertmanager shown as %q", a.Alertmanager)
	}
	for range 3 {
		c.collect(ctx)(&snap)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the collector opened %d connections over several polls; want 1 kept alive", n)
	}
}

func TestAlertingDownKeepsNoSecretAndLastData(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := newAlertingCollector(AlertingConfig{Prometheus: "http://monitor:s3cret@" + addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	prev := &AlertingStats{Alerts: []ExternalAlert{{Name: "Old", State: ExternalFiring, External: true}}}
	c.last = prev
	snap := Snapshot{Errors: map[string]string{}}
	c.collect(context.Background())(&snap)
	msg := snap.Errors[SourceAlerting]
	if msg == "" || strings.Contains(msg, "s3cret") || !strings.Contains(msg, addr) {
		t.Errorf("error %q should name %s and never the password", msg, addr)
	}
	if snap.Alerting != prev {
		t.Errorf("a failing source must keep its last good data (contract C3)")
	}
}

func TestAlertingConfigErrors(t *testing.T) {
	for _, cfg := range []AlertingConfig{
		{},
		{Alertmanager: "alertmanager:9093"},
		{Prometheus: "ftp://user:pw@x/"},
	} {
		err := ValidateAlerting(cfg)
		if err == nil {
			t.Errorf("%+v accepted", cfg)
			continue
		}
		if strings.Contains(err.Error(), ":pw@") {
			t.Errorf("error prints the password: %v", err)
		}
	}
	if err := ValidateAlerting(AlertingConfig{Alertmanager: "http://am:9093/", Prometheus: "https://prom.internal"}); err != nil {
		t.Error(err)
	}
}
