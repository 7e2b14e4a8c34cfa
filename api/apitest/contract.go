package apitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cascade-planning/cascade/api"
)

// The contract check: every response an Env receives for an API operation is
// validated against the OpenAPI 3 document the server publishes, so a test
// that gets a response the document does not describe fails, whatever the
// test itself checks. A response is in the contract when
//
//   - its status is documented for the operation,
//   - its Content-Type is one the documented response has, and its body
//     matches that media type's schema (required properties, nullable,
//     types, enums),
//   - each of the headers the document promises (ETag, Location,
//     Idempotent-Replayed, Retry-After) it carries is documented on it;
//
// and a request the server accepts (a 2xx) is one the document allows
// (parameters, body), so a client generated from the document can send it.
//
// Env.Client checks every exchange this way, so requests a test builds
// itself are checked too. Requests to paths outside the API (/healthz,
// /metrics, unknown paths) are not checked.

// contractHeaders are the response headers a client relies on; each one a
// response carries must be documented on it.
var contractHeaders = []string{"ETag", "Location", api.HeaderReplayed, "Retry-After"}

// contract is the published document and a router over it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	doc, err := api.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	// Routing matches paths relative to the base path; the server URL is
	// the request's, whatever it is.
	doc.Servers = nil
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: r}, nil
})

func init() {
	// The spreadsheets the API sends are binary: their schema is a string
	// of bytes, which any body satisfies.
	for _, mt := range []string{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv"} {
		openapi3filter.RegisterBodyDecoder(mt, func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			_, err := io.Copy(io.Discard, r)
			return nil, err
		})
	}
}

// CheckContract returns why a response to method and path (with query)
// breaks the published OpenAPI document, or nil when it does not or when
// the path is not an API operation.
func CheckContract(method, path string, res *Response) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	const prefix = "/api/v1"
	if !strings.HasPrefix(path, prefix+"/") {
		return nil
	}
	u, err := url.Parse(strings.TrimPrefix(path, prefix))
	if err != nil {
		return nil // the request never reached an operation
	}
	req := &http.Request{Method: method, URL: u, Header: http.Header{}}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil // unknown path or method: answered by the router, not an operation
	}
	op := route.Operation
	documented := op.Responses.Status(res.Status)
	if documented == nil || documented.Value == nil {
		return fmt.Errorf("%s %s: status %d is not documented for operation %s", method, path, res.Status, op.OperationID)
	}
	var errs []string
	for _, h := range contractHeaders {
		if res.Header.Get(h) != "" && documented.Value.Headers[h] == nil {
			errs = append(errs, fmt.Sprintf("header %s is not documented on %d", h, res.Status))
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.Status,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		body := res.Body
		if len(body) > 600 {
			body = append(body[:600:600], "…"...)
		}
		return fmt.Errorf("%s %s (%s): the %d response breaks the OpenAPI document: %s\nbody: %s",
			method, path, op.OperationID, res.Status, strings.Join(errs, "; "), body)
	}
	return nil
}

// contractTransport checks every response against the contract, reporting
// a breach on the test that sent the request (see withTest) or else on the
// test that made the Env.
type contractTransport struct {
	base http.RoundTripper
	t    testing.TB
}

func (c *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	// Bodies beyond 1 MiB (uploads a memory test sends, say) are not kept
	// for checking, so the check does not weigh on what such a test measures.
	if req.GetBody != nil && req.ContentLength <= 1<<20 {
		if rc, err := req.GetBody(); err == nil {
			reqBody, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	res, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return res, nil // the test sees the short body
	}
	if err := CheckContract(req.Method, req.URL.RequestURI(), &Response{Status: res.StatusCode, Header: res.Header, Body: body}); err != nil {
		t := c.t
		if tt, ok := req.Context().Value(testKey{}).(testing.TB); ok {
			t = tt
		}
		t.Errorf("contract: %v", err)
	}
	if res.StatusCode/100 == 2 {
		if err := CheckAcceptedRequest(req, reqBody); err != nil {
			t := c.t
			if tt, ok := req.Context().Value(testKey{}).(testing.TB); ok {
				t = tt
			}
			t.Errorf("contract: %v", err)
		}
	}
	return res, nil
}

// CheckAcceptedRequest returns why a request the server accepted (answered
// with a 2xx) breaks the published OpenAPI document: a client generated from
// the document must be able to send it. The body is the request's; nil for
// a body that was not kept, which is then not checked.
func CheckAcceptedRequest(req *http.Request, body []byte) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	const prefix = "/api/v1"
	if !strings.HasPrefix(req.URL.Path, prefix+"/") {
		return nil
	}
	u := *req.URL
	u.Path = strings.TrimPrefix(u.Path, prefix)
	u.RawPath = ""
	u.Scheme, u.Host = "", ""
	r := &http.Request{Method: req.Method, URL: &u, Header: req.Header.Clone(), Host: req.Host,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		return nil
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			ExcludeRequestBody: body == nil && req.ContentLength != 0}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		if len(body) > 600 {
			body = append(body[:600:600], "…"...)
		}
		return fmt.Errorf("%s %s (%s): the server accepted a request the OpenAPI document refuses: %v\nbody: %s",
			req.Method, req.URL.RequestURI(), route.Operation.OperationID, err, body)
	}
	return nil
}

type testKey struct{}

// withTest makes the contract check report on t.
func withTest(ctx context.Context, t testing.TB) context.Context {
	return context.WithValue(ctx, testKey{}, t)
}
