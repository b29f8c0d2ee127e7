package collectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// promPoint is one [unix-seconds, "value"] pair of the Prometheus HTTP API.
// Decoding it directly into two floats (instead of []any) keeps a
// 500-instance range answer from allocating per sample.
type promPoint struct {
	T float64
	V float64
}

func (p *promPoint) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return errors.New("a sample is not a [time, value] pair")
	}
	ts, val, ok := bytes.Cut(b[1:len(b)-1], []byte(","))
	if !ok {
		return errors.New("a sample is not a [time, value] pair")
	}
	t, err := strconv.ParseFloat(string(bytes.TrimSpace(ts)), 64)
	if err != nil {
		return fmt.Errorf("a sample's time %q is not a number", ts)
	}
	val = bytes.TrimSpace(val)
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return fmt.Errorf("a sample's value %q is not a quoted number", val)
	}
	// Prometheus writes NaN, +Inf and -Inf as such; ParseFloat reads them.
	v, err := strconv.ParseFloat(string(val[1:len(val)-1]), 64)
	if err != nil {
		return fmt.Errorf("a sample's value %q is not a number", val)
	}
	p.T, p.V = t, v
	return nil
}

func (p promPoint) time() time.Time {
	sec, frac := math.Modf(p.T)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// promSeries is one element of a vector or matrix result.
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  promPoint         `json:"value"`  // vector
	Values []promPoint       `json:"values"` // matrix
}

type promAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string       `json:"resultType"`
		Result     []promSeries `json:"result"`
	} `json:"data"`
}

// maxPromBody bounds one answer: a runaway query must not eat the console's
// memory. 500 instances' 60-point range answer is about 1 MB.
const maxPromBody = 64 << 20

// promClient asks one Prometheus-compatible server (Prometheus, Thanos
// Query, Mimir) over one kept-alive connection.
type promClient struct {
	base    *url.URL
	client  *http.Client
	secrets []string
}

// query runs an instant query at t.
func (c *promClient) query(ctx context.Context, q string, t time.Time) ([]promSeries, error) {
	v := url.Values{"query": {q}, "time": {formatPromTime(t)}}
	return c.get(ctx, "/api/v1/query", v, "vector")
}

// queryRange runs a range query from start to end every step.
func (c *promClient) queryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]promSeries, error) {
	v := url.Values{"query": {q}, "start": {formatPromTime(start)}, "end": {formatPromTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	return c.get(ctx, "/api/v1/query_range", v, "matrix")
}

func formatPromTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// PromAPIError is Prometheus's own refusal of a query (bad PromQL, a
// timeout, too many samples), told apart from a network failure by type.
type PromAPIError struct {
	Path, Type, Msg string
}

func (e *PromAPIError) Error() string {
	return fmt.Sprintf("Prometheus refused %s (%s: %s)", e.Path, e.Type, e.Msg)
}

func (c *promClient) get(ctx context.Context, path string, form url.Values, want string) ([]promSeries, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	// POST keeps long PromQL out of proxy logs and URL length limits.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build the Prometheus request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot query Prometheus at %s: %w; check that it runs and the URL in fleet.prometheus", c.base.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxPromBody)
	var ans promAnswer
	decErr := json.NewDecoder(body).Decode(&ans)
	_, _ = io.Copy(io.Discard, body) // drained, so the connection is reused
	switch {
	case decErr == nil && ans.Status == "error":
		return nil, &PromAPIError{Path: path, Type: ans.ErrorType, Msg: ans.Error}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("Prometheus at %s answered %s with HTTP %d; check the URL in fleet.prometheus", c.base.Host, path, resp.StatusCode)
	case decErr != nil:
		return nil, fmt.Errorf("Prometheus at %s sent an answer to %s that is not the expected JSON (%v); is fleet.prometheus really a Prometheus API?", c.base.Host, path, decErr)
	case ans.Data.ResultType != want:
		return nil, fmt.Errorf("Prometheus at %s answered %s with a %q result where a %s was expected", c.base.Host, path, ans.Data.ResultType, want)
	}
	return ans.Data.Result, nil
}
