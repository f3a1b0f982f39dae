package assurancehub

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEvaluateAuthHeaders(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		wantAuth   string
		wantAPIKey string
	}{
		{name: "default bearer", wantAuth: "Bearer " + testKey},
		{name: "X-API-Key", opts: []Option{WithAPIKeyHeader()}, wantAPIKey: testKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, nil)
			c := newTestClient(t, srv.URL, tt.opts...)
			if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
				t.Fatal(err)
			}
			reqs := rec.all()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			h := reqs[0].Header
			if got := h.Values("Authorization"); !reflect.DeepEqual(got, nonEmpty(tt.wantAuth)) {
				t.Errorf("Authorization = %q, want %q", got, nonEmpty(tt.wantAuth))
			}
			if got := h.Values("X-Api-Key"); !reflect.DeepEqual(got, nonEmpty(tt.wantAPIKey)) {
				t.Errorf("X-API-Key = %q, want %q", got, nonEmpty(tt.wantAPIKey))
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func TestEvaluatePathPerTestType(t *testing.T) {
	srv, rec := newServer(t, nil)
	prefixed := newTestClient(t, srv.URL+"/gateway/")
	plain := newTestClient(t, srv.URL)
	types := TestTypes()
	if len(types) != 12 {
		t.Fatalf("TestTypes() has %d entries, want 12", len(types))
	}
	for _, tt := range types {
		if !plain.Supports(tt) {
			t.Errorf("Supports(%q) = false", tt)
		}
		if _, err := plain.Evaluate(context.Background(), tt, biasRequest); err != nil {
			t.Fatalf("%s: %v", tt, err)
		}
		if _, err := prefixed.Evaluate(context.Background(), tt, biasRequest); err != nil {
			t.Fatalf("%s via prefix: %v", tt, err)
		}
	}
	reqs := rec.all()
	if len(reqs) != 2*len(types) {
		t.Fatalf("server saw %d requests, want %d", len(reqs), 2*len(types))
	}
	for i, tt := range types {
		if got, want := reqs[2*i].Path, "/v1/evaluate/"+tt; got != want {
			t.Errorf("path = %q, want %q", got, want)
		}
		if got, want := reqs[2*i+1].Path, "/gateway/v1/evaluate/"+tt; got != want {
			t.Errorf("prefixed path = %q, want %q", got, want)
		}
		if reqs[2*i].Method != http.MethodPost {
			t.Errorf("method = %q, want POST", reqs[2*i].Method)
		}
	}
	if plain.Supports("child-safety") || plain.Supports("") {
		t.Error("Supports accepted an unknown test type")
	}
}

func TestEvaluateRequestShape(t *testing.T) {
	tests := []struct {
		name    string
		req     Request
		fixture string
	}{
		{"without customer id", biasRequest, "request-bias.json"},
		{"with customer id", Request{Prompt: biasRequest.Prompt, Response: biasRequest.Response, CustomerID: "cust_789"}, "request-with-customer-id.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, nil)
			c := newTestClient(t, srv.URL)
			if _, err := c.Evaluate(context.Background(), Bias, tt.req); err != nil {
				t.Fatal(err)
			}
			got := rec.all()[0]
			var gotBody, wantBody map[string]any
			if err := json.Unmarshal(got.Body, &gotBody); err != nil {
				t.Fatalf("request body is not JSON: %v", err)
			}
			if err := json.Unmarshal(fixture(t, tt.fixture), &wantBody); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotBody, wantBody) {
				t.Errorf("body = %v\nwant %v", gotBody, wantBody)
			}
			for k, want := range map[string]string{
				"Content-Type": "application/json",
				"Accept":       "application/json",
				"User-Agent":   "safecheck-go/0.1.0",
			} {
				if v := got.Header.Get(k); v != want {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

func TestEvaluateUserAgentOption(t *testing.T) {
	srv, rec := newServer(t, nil)
	c := newTestClient(t, srv.URL, WithUserAgent("acme-checker/2"))
	if _, err := c.Evaluate(context.Background(), Toxicity, biasRequest); err != nil {
		t.Fatal(err)
	}
	if got := rec.all()[0].Header.Get("User-Agent"); got != "acme-checker/2" {
		t.Errorf("User-Agent = %q", got)
	}
}

func TestEvaluateDecodesResult(t *testing.T) {
	srv, _ := newServer(t, nil)
	c := newTestClient(t, srv.URL)
	res, err := c.Evaluate(context.Background(), Bias, biasRequest)
	if err != nil {
		t.Fatal(err)
	}
	if res.FinalConsensusScore != 0.85 || res.Evaluation.RiskLevel != "reject" || res.Evaluation.PassFail != "fail" ||
		!res.Evaluation.Flagged || len(res.ConsensusAnalysis.Calculation) != 3 {
		t.Errorf("unexpected result %+v", res)
	}
	if string(res.Raw) != string(fixture(t, "response-bias-reject.json")) {
		t.Error("Raw differs from the body sent")
	}
}

func TestEvaluateValidatesInput(t *testing.T) {
	srv, rec := newServer(t, nil)
	c := newTestClient(t, srv.URL)
	const secretPrompt = "prompt-canary-6f1d2"
	tests := []struct {
		name     string
		testType string
		req      Request
		want     error
	}{
		{"unknown type", "child-safety", Request{Prompt: secretPrompt, Response: "r"}, ErrUnknownTestType},
		{"empty type", "", Request{Prompt: secretPrompt, Response: "r"}, ErrUnknownTestType},
		{"upper case type", "BIAS", Request{Prompt: secretPrompt, Response: "r"}, ErrUnknownTestType},
		{"empty prompt", Bias, Request{Response: secretPrompt}, ErrEmptyPrompt},
		{"empty response", Bias, Request{Prompt: secretPrompt}, ErrEmptyResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Evaluate(context.Background(), tt.testType, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), secretPrompt) {
				t.Errorf("error %q contains request content", err)
			}
			if tt.testType != "" && !strings.Contains(err.Error(), tt.testType) && tt.want == ErrUnknownTestType {
				t.Errorf("error %q does not name the test type", err)
			}
		})
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("invalid input still sent %d requests", n)
	}
}

func TestEvaluateAPIErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		wantMessage string
		wantRetry   time.Duration
		wantRetryOK bool
		wantTemp    bool
		wantUnauth  bool
		wantLimited bool
		wantError   string
	}{
		{
			name: "401 error string", status: 401, body: `{"error":"Invalid API key"}`,
			wantMessage: "Invalid API key", wantUnauth: true,
			wantError: "assurancehub: 401 Unauthorized: Invalid API key",
		},
		{
			name: "403 nested error", status: 403, body: `{"error":{"message":"key disabled","code":"forbidden"}}`,
			wantMessage: "key disabled", wantUnauth: true,
		},
		{
			name: "429 retry after seconds", status: 429, header: map[string]string{"Retry-After": "2"},
			body: `{"message":"rate limit exceeded"}`, wantMessage: "rate limit exceeded",
			wantRetry: 2 * time.Second, wantRetryOK: true, wantTemp: true, wantLimited: true,
			wantError: "assurancehub: 429 Too Many Requests: rate limit exceeded (retry after 2s)",
		},
		{
			name: "429 retry after date", status: 429,
			header:      map[string]string{"Retry-After": fixedNow.Add(90 * time.Second).Format(http.TimeFormat)},
			body:        `{"detail":"Rate limit exceeded"}`,
			wantMessage: "Rate limit exceeded", wantRetry: 90 * time.Second, wantRetryOK: true,
			wantTemp: true, wantLimited: true,
		},
		{
			name: "429 retry after zero", status: 429, header: map[string]string{"Retry-After": "0"},
			wantRetry: 0, wantRetryOK: true, wantTemp: true, wantLimited: true,
			wantError: "assurancehub: 429 Too Many Requests (retry after 0s)",
		},
		{
			name: "429 without header", status: 429, body: "slow down",
			wantMessage: "slow down", wantTemp: true, wantLimited: true,
		},
		{
			name: "429 garbage header", status: 429, header: map[string]string{"Retry-After": "soon"},
			wantTemp: true, wantLimited: true,
		},
		{
			name: "500 html", status: 500, body: "<html>\n<body>Internal\tServer Error</body>\n</html>",
			wantMessage: "<html> <body>Internal Server Error</body> </html>", wantTemp: true,
			wantError: "assurancehub: 500 Internal Server Error: <html> <body>Internal Server Error</body> </html>",
		},
		{
			name: "503 with retry after", status: 503, header: map[string]string{"Retry-After": "30"},
			wantRetry: 30 * time.Second, wantRetryOK: true, wantTemp: true,
		},
		{
			name: "502 empty body", status: 502, wantTemp: true,
			wantError: "assurancehub: 502 Bad Gateway",
		},
		{name: "504", status: 504, body: `{"message":"upstream timeout"}`, wantMessage: "upstream timeout", wantTemp: true},
		{
			name: "400 fastapi detail list", status: 400,
			body:        `{"detail":[{"loc":["body","prompt"],"msg":"Field required","type":"missing","input":{}},{"msg":"too long"}]}`,
			wantMessage: "Field required; too long",
		},
		{name: "422 detail string", status: 422, body: `{"detail":"prompt must be a string"}`, wantMessage: "prompt must be a string"},
		{name: "404 unknown JSON keys fall back to text", status: 404, body: `{"code":7}`, wantMessage: `{"code":7}`},
		{name: "413", status: 413, body: "too big", wantMessage: "too big"},
		{
			name: "unknown status", status: 599, body: "odd",
			wantMessage: "odd", wantError: "assurancehub: 599: odd",
		},
		{
			name: "redirect is not followed", status: 307, header: map[string]string{"Location": "http://127.0.0.1:1/elsewhere"},
			wantError: "assurancehub: 307 Temporary Redirect",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c := newTestClient(t, srv.URL)
			c.now = func() time.Time { return fixedNow }
			res, err := c.Evaluate(context.Background(), Bias, biasRequest)
			if res != nil {
				t.Errorf("result %+v on error status", res)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if apiErr.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", apiErr.StatusCode, tt.status)
			}
			if apiErr.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", apiErr.Message, tt.wantMessage)
			}
			if string(apiErr.Body) != tt.body {
				t.Errorf("Body = %q, want %q", apiErr.Body, tt.body)
			}
			if apiErr.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter field = %v, want %v", apiErr.RetryAfter, tt.wantRetry)
			}
			if d, ok := RetryAfter(err); d != tt.wantRetry || ok != tt.wantRetryOK {
				t.Errorf("RetryAfter(err) = %v, %v, want %v, %v", d, ok, tt.wantRetry, tt.wantRetryOK)
			}
			if got := apiErr.Temporary(); got != tt.wantTemp {
				t.Errorf("Temporary() = %v, want %v", got, tt.wantTemp)
			}
			if got := IsUnauthorized(err); got != tt.wantUnauth {
				t.Errorf("IsUnauthorized = %v, want %v", got, tt.wantUnauth)
			}
			if got := IsRateLimited(err); got != tt.wantLimited {
				t.Errorf("IsRateLimited = %v, want %v", got, tt.wantLimited)
			}
			if tt.wantError != "" && err.Error() != tt.wantError {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantError)
			}
			if n := len(rec.all()); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1 (no retries, no redirects)", n)
			}
		})
	}
}

func TestEvaluateRedirectKeepsKey(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(other.Close)
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusPermanentRedirect)
	})
	for _, opts := range [][]Option{nil, {WithAPIKeyHeader()}, {WithHTTPClient(&http.Client{})}} {
		c := newTestClient(t, srv.URL, opts...)
		_, err := c.Evaluate(context.Background(), Bias, biasRequest)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusPermanentRedirect {
			t.Fatalf("err = %v, want APIError 308", err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target received %d requests", n)
	}
}

// canaryKey has characters outside the key-shaped pattern, so only exact
// replacement removes it whole.
const canaryKey = "ash_test_canary.KEY~echo-7f3a9c"

// leaks reports whether s holds any recognisable part of canaryKey.
func leaks(s string) bool {
	return strings.Contains(s, canaryKey) || strings.Contains(s, "canary.KEY") || strings.Contains(s, "KEY~echo")
}

func TestEvaluateNeverLeaksKey(t *testing.T) {
	const promptCanary = "PROMPT-canary-5c1e0b44 with spaces"
	const responseCanary = "RESPONSE-canary-93d1aa7e\nsecond line"
	req := Request{Prompt: promptCanary, Response: responseCanary}
	key := func(r *http.Request) string {
		if v := r.Header.Get("X-API-Key"); v != "" {
			return v
		}
		return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"json error echo", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid key " + key(r)})
		}},
		{"json message echo with content", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"message": "bad request for " + key(r) + " prompt=" + promptCanary + " response=" + responseCanary,
				"echo":    map[string]string{"prompt": promptCanary, "response": responseCanary, "key": key(r)},
			})
		}},
		{"detail list echo", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(422)
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": []map[string]any{
				{"msg": "header was " + key(r), "input": promptCanary},
			}})
		}},
		{"text echo across the message cut", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			// The key starts at byte 172 and crosses the 200-byte message cut.
			_, _ = w.Write([]byte(strings.Repeat("x", 164) + " Bearer " + key(r) + " " + responseCanary))
		}},
		{"text echo across the body cut", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			_, _ = w.Write([]byte(strings.Repeat("y", maxErrorBodyBytes-20) + key(r) + promptCanary))
		}},
		{"malformed 200 echo", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"evaluation": "` + key(r) + " " + promptCanary + `"}`))
		}},
		{"invalid JSON 200 echo", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(key(r) + promptCanary))
		}},
		{"oversized 200 echo", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat(key(r)+promptCanary, 200)))
		}},
	}
	for _, tt := range tests {
		for _, opts := range [][]Option{nil, {WithAPIKeyHeader()}} {
			t.Run(tt.name, func(t *testing.T) {
				srv, _ := newServer(t, tt.handler)
				c, err := New(append([]Option{WithAPIKey(canaryKey), WithBaseURL(srv.URL), WithMaxResponseBytes(8192)}, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Evaluate(context.Background(), Bias, req)
				if err == nil {
					t.Fatal("want an error")
				}
				checkNoLeak(t, "err.Error()", err.Error(), promptCanary, responseCanary)
				var apiErr *APIError
				if errors.As(err, &apiErr) {
					checkNoLeak(t, "Message", apiErr.Message, promptCanary, responseCanary)
					checkNoLeak(t, "Body", string(apiErr.Body), promptCanary, responseCanary)
					if !strings.Contains(apiErr.Error()+string(apiErr.Body), redacted) {
						t.Errorf("expected a %s marker in %q / %q", redacted, apiErr.Error(), apiErr.Body)
					}
				}
			})
		}
	}
}

func checkNoLeak(t *testing.T, what, s string, content ...string) {
	t.Helper()
	if leaks(s) {
		t.Errorf("%s leaks the key: %q", what, s)
	}
	for _, c := range content {
		if strings.Contains(s, c) || strings.Contains(s, strings.ReplaceAll(c, "\n", " ")) {
			t.Errorf("%s leaks content %q: %q", what, c, s)
		}
	}
}

func TestEvaluateRedactsKeyInResult(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		_, _ = w.Write([]byte(`{"evaluation":{"risk_level":"low","pass_fail":"pass","flagged":false},"model_execution":{"key":"` + k + `"}}`))
	})
	c, err := New(WithAPIKey(canaryKey), WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Evaluate(context.Background(), Bias, biasRequest)
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(res.Raw)) || leaks(string(res.ModelExecution)) {
		t.Errorf("Raw leaks the key: %s", res.Raw)
	}
	if res.Evaluation.PassFail != "pass" {
		t.Errorf("PassFail = %q", res.Evaluation.PassFail)
	}
}

func TestEvaluateNetworkErrorsNeverLeakKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	for _, opts := range [][]Option{nil, {WithAPIKeyHeader()}} {
		c, err := New(append([]Option{WithAPIKey(canaryKey), WithBaseURL(url)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Evaluate(context.Background(), Bias, biasRequest)
		if err == nil {
			t.Fatal("want a connection error")
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			t.Fatalf("connection failure reported as APIError: %v", err)
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			t.Errorf("err = %v, want it to wrap *net.OpError", err)
		}
		if !strings.HasPrefix(err.Error(), "assurancehub: evaluate bias: ") {
			t.Errorf("err = %q, want the package and test type prefix", err)
		}
		checkNoLeak(t, "network error", err.Error(), biasRequest.Prompt, biasRequest.Response)
	}
}

func TestEvaluateContext(t *testing.T) {
	tests := []struct {
		name string
		// partialBody makes the server send headers and part of the body
		// before it stalls.
		partialBody bool
		// cancelOnArrival cancels the context once the server has the request.
		cancelOnArrival bool
		timeout         time.Duration
		preCanceled     bool
		want            error
	}{
		{name: "canceled while waiting", cancelOnArrival: true, want: context.Canceled},
		{name: "canceled while reading the body", partialBody: true, cancelOnArrival: true, want: context.Canceled},
		{name: "deadline while waiting", timeout: 50 * time.Millisecond, want: context.DeadlineExceeded},
		{name: "deadline while reading the body", partialBody: true, timeout: 50 * time.Millisecond, want: context.DeadlineExceeded},
		{name: "already canceled", preCanceled: true, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.partialBody {
					w.Header().Set("Content-Length", "1000")
					_, _ = w.Write([]byte(`{"evaluation":`))
					_ = http.NewResponseController(w).Flush()
				}
				arrived <- struct{}{}
				<-r.Context().Done()
			})
			c, err := New(WithAPIKey(canaryKey), WithBaseURL(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			if tt.preCanceled {
				cancel()
			}
			done := make(chan struct{})
			defer close(done)
			if tt.cancelOnArrival {
				go func() {
					select {
					case <-arrived:
						cancel()
					case <-done:
					}
				}()
			}
			_, err = c.Evaluate(ctx, Bias, biasRequest)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.want)
			}
			if leaks(err.Error()) {
				t.Errorf("error leaks the key: %v", err)
			}
			if tt.preCanceled {
				select {
				case <-arrived:
					t.Error("a request was sent with a canceled context")
				default:
				}
			}
		})
	}
}

func TestEvaluateResponseSizeCap(t *testing.T) {
	const max = 1024
	valid := `{"evaluation":{"risk_level":"low","pass_fail":"pass","flagged":false}}`
	exact := valid + strings.Repeat(" ", max-len(valid))
	tests := []struct {
		name     string
		status   int
		body     string
		wantErr  error
		wantBody int // for APIError: len(Body)
	}{
		{"exactly the cap", 200, exact, nil, 0},
		{"one byte over", 200, exact + " ", ErrResponseTooLarge, 0},
		{"far over", 200, strings.Repeat("x", 10*max), ErrResponseTooLarge, 0},
		{"error body over cap is still an APIError", 500, strings.Repeat("z", 3*max), nil, max},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c := newTestClient(t, srv.URL, WithMaxResponseBytes(max))
			res, err := c.Evaluate(context.Background(), Bias, biasRequest)
			switch {
			case tt.status != 200:
				var apiErr *APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %v, want APIError", err)
				}
				if len(apiErr.Body) != tt.wantBody {
					t.Errorf("len(Body) = %d, want %d", len(apiErr.Body), tt.wantBody)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "xxxx") {
					t.Errorf("error carries body content: %v", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Raw) != max {
					t.Errorf("len(Raw) = %d, want %d", len(res.Raw), max)
				}
			}
		})
	}
}

func TestConnectionReuse(t *testing.T) {
	ok := fixture(t, "response-bias-reject.json")
	tests := []struct {
		name    string
		status  int
		body    []byte
		opts    []Option
		wantErr bool
	}{
		{"200", 200, ok, nil, false},
		{"429 with body", 429, []byte(`{"message":"rate limit exceeded"}`), nil, true},
		{"500 large body", 500, []byte(strings.Repeat("e", 100<<10)), nil, true},
		{"oversized 200 within drain limit", 200, append(ok, make([]byte, 2000)...), []Option{WithMaxResponseBytes(1024)}, true},
		{"X-API-Key header", 200, ok, []Option{WithAPIKeyHeader()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write(tt.body)
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL, tt.opts...)
			for i := 0; i < 20; i++ {
				_, err := c.Evaluate(context.Background(), Bias, biasRequest)
				if (err != nil) != tt.wantErr {
					t.Fatalf("call %d: err = %v, wantErr %v", i, err, tt.wantErr)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("20 sequential calls opened %d connections, want 1", n)
			}
		})
	}
}

func TestEvaluateMalformedSuccessBody(t *testing.T) {
	const marker = "MARKER-b7c2"
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"not JSON", "<html>" + marker + "</html>"},
		{"truncated", `{"evaluation":{"risk_level":"` + marker},
		{"array", `["` + marker + `"]`},
		{"string", `"` + marker + `"`},
		{"null", "null"},
		{"no evaluation", `{"final_consensus_score":0.9,"note":"` + marker + `"}`},
		{"evaluation null", `{"evaluation":null}`},
		{"evaluation not object", `{"evaluation":"` + marker + `"}`},
		{"pass_fail wrong type", `{"evaluation":{"pass_fail":["` + marker + `"]}}`},
		{"score wrong type", `{"evaluation":{},"final_consensus_score":{"x":"` + marker + `"}}`},
		{"trailing garbage", `{"evaluation":{}} ` + marker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tt.body))
			})
			c := newTestClient(t, srv.URL)
			res, err := c.Evaluate(context.Background(), Bias, biasRequest)
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %v, res = %+v, want ErrMalformedResponse", err, res)
			}
			if strings.Contains(err.Error(), marker) {
				t.Errorf("error %q carries body content", err)
			}
		})
	}
}

func TestKeySource(t *testing.T) {
	srv, rec := newServer(t, nil)
	keys := []string{"ash_test_first11111111111111111", "ash_live_second2222222222222222"}
	var calls atomic.Int32
	c, err := New(WithBaseURL(srv.URL), WithLogger(slog.New(slog.DiscardHandler)), WithKeySource(func(ctx context.Context) (string, error) {
		n := calls.Add(1)
		return keys[(n-1)%2], nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.all()
	for i, want := range keys {
		if got := reqs[i].Header.Get("Authorization"); got != "Bearer "+want {
			t.Errorf("request %d Authorization = %q, want Bearer %s", i, got, want)
		}
	}

	t.Run("errors", func(t *testing.T) {
		errSource := errors.New("vault unavailable")
		tests := []struct {
			name string
			src  func(context.Context) (string, error)
			want error
		}{
			{"source error", func(context.Context) (string, error) { return "", errSource }, errSource},
			{"empty key", func(context.Context) (string, error) { return "", nil }, ErrNoAPIKey},
			{"bad shape", func(context.Context) (string, error) { return "sk-canary.KEY~echo", nil }, ErrInvalidAPIKey},
			{"key with newline", func(context.Context) (string, error) { return "ash_test_canary.KEY~echo\r\nX: y", nil }, ErrInvalidAPIKey},
		}
		before := len(rec.all())
		for _, tt := range tests {
			c, err := New(WithBaseURL(srv.URL), WithKeySource(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Evaluate(context.Background(), Bias, biasRequest)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
			}
			if err != nil && leaks(err.Error()) {
				t.Errorf("%s: error leaks the key: %v", tt.name, err)
			}
		}
		if n := len(rec.all()) - before; n != 0 {
			t.Errorf("%d requests sent without a valid key", n)
		}
	})
}

func TestEnvAPIKey(t *testing.T) {
	srv, rec := newServer(t, nil)
	t.Setenv(EnvAPIKey, " ash_live_fromtheenvironment\n")
	c, err := New(WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
		t.Fatal(err)
	}
	if got := rec.all()[0].Header.Get("Authorization"); got != "Bearer ash_live_fromtheenvironment" {
		t.Errorf("Authorization = %q", got)
	}

	// An explicit key wins over the environment.
	c = newTestClient(t, srv.URL)
	if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
		t.Fatal(err)
	}
	if got := rec.all()[1].Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got)
	}

	t.Setenv(EnvAPIKey, "")
	if _, err := New(WithBaseURL(srv.URL)); !errors.Is(err, ErrNoAPIKey) {
		t.Errorf("New without key: err = %v, want ErrNoAPIKey", err)
	}
	t.Setenv(EnvAPIKey, "sk-canary.KEY~echo")
	if _, err := New(WithBaseURL(srv.URL)); !errors.Is(err, ErrInvalidAPIKey) || leaks(err.Error()) {
		t.Errorf("New with bad env key: err = %v, want ErrInvalidAPIKey without the key", err)
	}
}

func TestTransport(t *testing.T) {
	a := newTestClient(t, DefaultBaseURL)
	b := newTestClient(t, "http://127.0.0.1:9")
	if a.hc.Transport == nil || a.hc.Transport != b.hc.Transport {
		t.Fatal("clients without WithHTTPClient do not share one transport")
	}
	tr, ok := a.hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("shared transport is %T", a.hc.Transport)
	}
	if tr == http.DefaultTransport {
		t.Error("shared transport is http.DefaultTransport itself, not a clone")
	}
	if tr.MaxIdleConnsPerHost != 10 || tr.MaxIdleConns != 100 || !tr.ForceAttemptHTTP2 {
		t.Errorf("transport limits: per host %d, total %d, h2 %v", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tr.ForceAttemptHTTP2)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion != 0x0303 {
		t.Errorf("TLS minimum version is not 1.2: %+v", tr.TLSClientConfig)
	}
	if a.hc.Timeout != 0 {
		t.Errorf("default client has a Timeout %v; callers use the context", a.hc.Timeout)
	}

	t.Run("WithHTTPClient", func(t *testing.T) {
		srv, rec := newServer(t, nil)
		own := &http.Transport{}
		t.Cleanup(own.CloseIdleConnections)
		hc := &http.Client{Transport: own, Timeout: time.Minute}
		c := newTestClient(t, srv.URL, WithHTTPClient(hc))
		if c.hc.Transport != own || c.hc.Timeout != time.Minute {
			t.Error("the given client's Transport or Timeout was not used")
		}
		if hc.CheckRedirect != nil {
			t.Error("the caller's http.Client was modified")
		}
		if _, err := c.Evaluate(context.Background(), Bias, biasRequest); err != nil {
			t.Fatal(err)
		}
		if len(rec.all()) != 1 {
			t.Error("request not sent")
		}
		c.CloseIdleConnections()
	})
}

// flatteningTransport is a real transport behind a wrapper that, like some
// instrumentation layers, replaces errors with new ones that wrap nothing.
type flatteningTransport struct{ base *http.Transport }

func (f flatteningTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.base.RoundTrip(r)
	if err != nil {
		return nil, errors.New("round trip failed")
	}
	return resp, nil
}

func TestEvaluateContextErrorSurvivesFlatteningTransport(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	c := newTestClient(t, srv.URL, WithHTTPClient(&http.Client{Transport: flatteningTransport{base}}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Evaluate(ctx, Bias, biasRequest)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want errors.Is context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "round trip failed") {
		t.Errorf("err = %q, want the transport's own message kept", err)
	}
}
