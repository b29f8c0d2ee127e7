package collectors

import (
	"net"
	"net/http"
	"time"
)

// keptAliveClient is the HTTP client of a source that polls hosts HTTP
// servers: one kept-alive connection to each, so polling every few seconds
// never opens a new connection (and leaves a TIME_WAIT) each time, and no
// proxy from the environment.
func keptAliveClient(timeout time.Duration, hosts int) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        hosts,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     5 * time.Minute,
		},
	}
}
