package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient calls the Cascade API as one user: one bearer token, one
// connection pool shared with the other simulated users.
type apiClient struct {
	http  *http.Client
	token string
}

// apiResponse is what one call returned. Err is a transport error: no
// status at all.
type apiResponse struct {
	Status  int
	Header  http.Header
	Body    []byte
	Latency time.Duration
	Err     error
}

// newHTTPClient returns a client with enough idle connections for n users
// and a timeout well above the server's request timeout.
func newHTTPClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*n+4, n+2
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// do sends one request to base+path. body, when not nil, is sent as JSON;
// headers are name, value pairs.
func (c *apiClient) do(ctx context.Context, method, url string, body any, headers ...string) apiResponse {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiResponse{Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return apiResponse{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return apiResponse{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b, Latency: time.Since(start), Err: err}
}

// decode unmarshals a successful response's body into v.
func (r apiResponse) decode(v any) error {
	if r.Err != nil {
		return r.Err
	}
	if r.Status < 200 || r.Status > 299 {
		return fmt.Errorf("status %d: %s", r.Status, strings.TrimSpace(string(r.Body)))
	}
	return json.Unmarshal(r.Body, v)
}

// String describes the response for error messages.
func (r apiResponse) String() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	b := r.Body
	if len(b) > 500 {
		b = b[:500]
	}
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(b)))
}

// isProblem reports whether the response is an RFC 9457 problem document.
func (r apiResponse) isProblem() bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json")
}
