// Package promtest starts throwaway Prometheus and Alertmanager servers for
// tests: the installed binaries (Debian prometheus, prometheus-alertmanager)
// on free loopback ports in temporary directories, stopped when the test
// ends. A missing binary skips the test, or fails it under
// SLOTWATCH_REQUIRE_SERVERS=1 (testserver.Missing).
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// Server is a running Prometheus or Alertmanager.
type Server struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port
	Dir  string
}

func binary(t testing.TB, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		testserver.Missing(t, name, pkg)
	}
	return bin
}

// StartAlertmanager runs Alertmanager with a receiver that drops every
// notification and clustering off.
func StartAlertmanager(t testing.TB) *Server {
	t.Helper()
	bin := binary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	conf := "route:\n  receiver: drop\n  group_wait: 1s\nreceivers:\n  - name: drop\n"
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	start(t, dir, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	s := &Server{URL: "http://" + addr, Addr: addr, Dir: dir}
	waitReady(t, s.URL+"/-/ready", dir)
	return s
}

// PrometheusConfig is what a test Prometheus scrapes, evaluates and
// alerts to.
type PrometheusConfig struct {
	Targets      []string          // host:port scraped as job "slotwatch" every second
	RuleFiles    map[string]string // file name → content, evaluated every second
	Alertmanager string            // host:port, optional
	// DataDir, when set, is the TSDB directory to serve (e.g. blocks made
	// by promtool tsdb create-blocks-from); default a fresh one.
	DataDir string
	// Jobs are further scrape jobs, each target with labels of its own
	// (cluster, region, host), scraped every second.
	Jobs []ScrapeJob
}

// ScrapeJob is one scrape job of a test Prometheus.
type ScrapeJob struct {
	Name    string
	Targets []LabeledTarget
}

// LabeledTarget is one target (host:port) and the labels Prometheus adds
// to its series.
type LabeledTarget struct {
	Addr   string
	Labels map[string]string
}

func jobsYAML(jobs []ScrapeJob) string {
	var b strings.Builder
	for _, j := range jobs {
		b.WriteString("  - job_name: " + strconv.Quote(j.Name) + "\n    static_configs:\n")
		for _, tg := range j.Targets {
			b.WriteString("      - targets: [" + strconv.Quote(tg.Addr) + "]\n")
			if len(tg.Labels) > 0 {
				b.WriteString("        labels:\n")
				for _, k := range slices.Sorted(maps.Keys(tg.Labels)) {
					b.WriteString("          " + k + ": " + strconv.Quote(tg.Labels[k]) + "\n")
				}
			}
		}
	}
	return b.String()
}

// StartPrometheus runs Prometheus with a 1 s scrape and evaluation interval.
func StartPrometheus(t testing.TB, cfg PrometheusConfig) *Server {
	t.Helper()
	bin := binary(t, "prometheus", "prometheus")
	dir := t.TempDir()
	conf := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n"
	for name, content := range cfg.RuleFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		conf += "  - " + strconv.Quote(name) + "\n"
	}
	if cfg.Alertmanager != "" {
		conf += "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [" + strconv.Quote(cfg.Alertmanager) + "]\n"
	}
	conf += "scrape_configs:\n  - job_name: slotwatch\n    static_configs:\n      - targets: ["
	for i, tg := range cfg.Targets {
		if i > 0 {
			conf += ", "
		}
		conf += strconv.Quote(tg)
	}
	conf += "]\n" + jobsYAML(cfg.Jobs)
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	data := filepath.Join(dir, "data")
	if cfg.DataDir != "" {
		data = cfg.DataDir
	}
	start(t, dir, bin, "--config.file="+path, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--rules.alert.resend-delay=1s")
	s := &Server{URL: "http://" + addr, Addr: addr, Dir: dir}
	waitReady(t, s.URL+"/-/ready", dir)
	return s
}

func start(t testing.TB, dir, bin string, args ...string) {
	t.Helper()
	testserver.StartLogged(t, dir, "server.log", nil, bin, args...)
}

func waitReady(t testing.TB, u, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	t.Fatalf("%s was not ready within 20s; its log:\n%s", u, log)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Sample is one element of an instant query's vector result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query.
func (s *Server) Query(ctx context.Context, q string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: %v: %s", q, err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	out := make([]Sample, 0, len(r.Data.Result))
	for _, x := range r.Data.Result {
		str, _ := x.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v", q, x.Value[1])
		}
		out = append(out, Sample{Metric: x.Metric, Value: v})
	}
	return out, nil
}
