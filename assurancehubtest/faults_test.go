package assurancehubtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
)

func TestFailNextOrder(t *testing.T) {
	s := newServer(t)
	s.FailNext(
		Status(http.StatusInternalServerError),
		RateLimited("7"),
		Fault{}, // lets one request through
		Fault{Status: http.StatusOK, Body: "not json"},
	)
	s.FailNext(Status(http.StatusServiceUnavailable))
	if n := s.PendingFaults(); n != 5 {
		t.Fatalf("PendingFaults = %d, want 5", n)
	}

	want := []struct {
		status      int
		retryAfter  string
		contentType string
		body        string
	}{
		{500, "", "application/json", `{"error":"Internal server error"}`},
		{429, "7", "application/json", `{"error":"Rate limit exceeded"}`},
		{200, "", "application/json", ""}, // evaluated normally
		{200, "", "text/plain; charset=utf-8", "not json"},
		{503, "", "application/json", `{"error":"Service unavailable"}`},
		{200, "", "application/json", ""}, // queue empty
	}
	for i, w := range want {
		r := send(t, s.Client(), s.URL, call{body: benignBody})
		if r.status != w.status || r.header.Get("Retry-After") != w.retryAfter || r.header.Get("Content-Type") != w.contentType {
			t.Errorf("request %d: status %d, Retry-After %q, Content-Type %q; want %d, %q, %q",
				i, r.status, r.header.Get("Retry-After"), r.header.Get("Content-Type"), w.status, w.retryAfter, w.contentType)
		}
		if w.body != "" && string(r.body) != w.body {
			t.Errorf("request %d: body %s, want %s", i, r.body, w.body)
		}
	}
	if got := s.Requests(assurancehub.Bias); got != 2 {
		t.Errorf("Requests(bias) = %d, want 2", got)
	}
	if got := s.TotalRequests(); got != len(want) {
		t.Errorf("TotalRequests = %d, want %d", got, len(want))
	}
}

// TestFailNextBeforeAuth checks that a request without a valid key (or to
// an unknown path) still takes the next fault.
func TestFailNextBeforeAuth(t *testing.T) {
	s := newServer(t)
	s.FailNext(Status(http.StatusBadGateway), Status(http.StatusGatewayTimeout))
	if r := send(t, s.Client(), s.URL, call{header: map[string]string{}, body: benignBody}); r.status != http.StatusBadGateway {
		t.Errorf("unauthenticated request: status %d, want 502", r.status)
	}
	if r := send(t, s.Client(), s.URL, call{path: "/nowhere"}); r.status != http.StatusGatewayTimeout {
		t.Errorf("unknown path: status %d, want 504", r.status)
	}
	if r := send(t, s.Client(), s.URL, call{header: map[string]string{}, body: benignBody}); r.status != http.StatusUnauthorized {
		t.Errorf("after the queue: status %d, want 401", r.status)
	}
}

func TestFaultBodies(t *testing.T) {
	tests := []struct {
		fault       Fault
		contentType string
		body        string
	}{
		{Status(400), "application/json", `{"error":"Bad request"}`},
		{Status(401), "application/json", `{"error":"Invalid API key"}`},
		{Status(403), "application/json", `{"error":"Forbidden"}`},
		{Status(404), "application/json", `{"error":"Not found"}`},
		{Status(418), "application/json", `{"error":"I'm a teapot"}`},
		{Status(429), "application/json", `{"error":"Rate limit exceeded"}`},
		{Status(499), "application/json", `{"error":"Request failed"}`},
		{Status(500), "application/json", `{"error":"Internal server error"}`},
		{Status(502), "application/json", `{"error":"Bad gateway"}`},
		{Status(599), "application/json", `{"error":"Internal server error"}`},
		{Status(200), "", ""},
		{Status(204), "", ""},
		{Fault{Status: 200, Body: `{"final_consensus_score":"high"}`}, "application/json", `{"final_consensus_score":"high"}`},
		{Fault{Status: 500, Body: "<html>upstream error</html>"}, "text/plain; charset=utf-8", "<html>upstream error</html>"},
		{Fault{Status: 503, Body: `{"detail":"maintenance"}`, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"}, "application/json", `{"detail":"maintenance"}`},
	}
	s := newServer(t)
	for _, tc := range tests {
		s.FailNext(tc.fault)
		r := send(t, s.Client(), s.URL, call{body: benignBody})
		if r.status != tc.fault.Status || r.header.Get("Content-Type") != tc.contentType || string(r.body) != tc.body {
			t.Errorf("%+v: got %d %q %s; want %d %q %s", tc.fault, r.status, r.header.Get("Content-Type"), r.body,
				tc.fault.Status, tc.contentType, tc.body)
		}
		if r.header.Get("Retry-After") != tc.fault.RetryAfter {
			t.Errorf("%+v: Retry-After %q", tc.fault, r.header.Get("Retry-After"))
		}
	}
}

func TestFailNextRejectsInvalidFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  string
	}{
		{"drop with status", Fault{Drop: true, Status: 500}, "cannot also set"},
		{"drop with body", Fault{Drop: true, Body: "x"}, "cannot also set"},
		{"informational status", Status(100), "outside 200-599"},
		{"status too high", Status(600), "outside 200-599"},
		{"negative status", Status(-1), "outside 200-599"},
		{"body without status", Fault{Body: "x"}, "need a Status"},
		{"retry-after without status", Fault{RetryAfter: "1"}, "need a Status"},
		{"negative delay", Fault{Delay: -time.Second}, "negative Delay"},
		{"newline in retry-after", RateLimited("1\r\nX-Evil: 1"), "not allowed in a header value"},
	}
	h, err := NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("panic %q, want it to contain %q", msg, tc.want)
				}
			}()
			h.FailNext(Status(500), tc.fault)
		})
	}
	if n := h.PendingFaults(); n != 0 {
		t.Errorf("PendingFaults = %d after rejected calls, want 0", n)
	}
}

func TestSetRateLimitRejectsInvalidRetryAfter(t *testing.T) {
	h, err := NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("SetRateLimit with a newline in retryAfter did not panic")
		}
	}()
	h.SetRateLimit(1, "1\n")
}

func TestDropConnection(t *testing.T) {
	s := newServer(t)
	s.FailNext(DropConnection(), Fault{Drop: true, Delay: 10 * time.Millisecond})
	for i := range 2 {
		resp, err := s.Client().Do(call{body: benignBody}.request(t, s.URL))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("drop %d: got a response %s", i, resp.Status)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("drop %d: error %v, want EOF or connection reset", i, err)
		}
	}
	if r := send(t, s.Client(), s.URL, call{body: benignBody}); r.status != http.StatusOK {
		t.Errorf("after the drops: status %d", r.status)
	}
	if s.TotalRequests() != 3 || s.Requests(assurancehub.Bias) != 1 {
		t.Errorf("TotalRequests %d, Requests(bias) %d; want 3, 1", s.TotalRequests(), s.Requests(assurancehub.Bias))
	}
}

// post sends the benign body to /v1/evaluate/bias on a servePipe server and
// returns the status, or the transport error.
func post(ctx context.Context, client *http.Client) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pipeURL+"/v1/evaluate/bias", strings.NewReader(benignBody))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+TestAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, err
}

func TestLatency(t *testing.T) {
	tests := []struct {
		name    string
		latency time.Duration
		faults  []Fault
		want    []time.Duration // how long each request takes
		status  []int
	}{
		{"none", 0, nil, []time.Duration{0, 0}, []int{200, 200}},
		{"every request", 3 * time.Second, nil, []time.Duration{3 * time.Second, 3 * time.Second}, []int{200, 200}},
		{"fault delay adds to latency", time.Second, []Fault{{Status: 503, Delay: 2 * time.Second}},
			[]time.Duration{3 * time.Second, time.Second}, []int{503, 200}},
		{"delay-only fault", 0, []Fault{{Delay: 5 * time.Second}}, []time.Duration{5 * time.Second, 0}, []int{200, 200}},
		{"negative latency is none", -time.Second, nil, []time.Duration{0}, []int{200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, err := NewHandler()
				if err != nil {
					t.Fatal(err)
				}
				client := servePipe(t, h)
				h.SetLatency(tc.latency)
				h.FailNext(tc.faults...)
				for i, want := range tc.want {
					start := time.Now()
					status, _, err := post(t.Context(), client)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					if got := time.Since(start); got != want || status != tc.status[i] {
						t.Errorf("request %d: took %v with status %d, want %v and %d", i, got, status, want, tc.status[i])
					}
				}
			})
		})
	}
}

// TestLatencyClientGivesUp checks that a request whose client goes away
// while it waits is abandoned without an answer and without leaving a
// goroutine behind (synctest.Test fails if one is left).
func TestLatencyClientGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := NewHandler()
		if err != nil {
			t.Fatal(err)
		}
		client := servePipe(t, h)
		h.SetLatency(time.Minute)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, _, err = post(ctx, client)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("client gave up after %v, want 1s", got)
		}
		synctest.Wait() // the handler has finished
		if time.Since(start) != time.Second {
			t.Errorf("the handler kept waiting for its latency")
		}
		if h.TotalRequests() != 1 || h.Requests(assurancehub.Bias) != 0 {
			t.Errorf("TotalRequests %d, Requests(bias) %d; want 1, 0", h.TotalRequests(), h.Requests(assurancehub.Bias))
		}
	})
}

// TestLatencyLoopback checks latency on a real socket, with bounds that do
// not depend on the speed of the machine.
func TestLatencyLoopback(t *testing.T) {
	s := newServer(t)
	s.SetLatency(50 * time.Millisecond)
	start := time.Now()
	if r := send(t, s.Client(), s.URL, call{body: benignBody}); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if got := time.Since(start); got < 50*time.Millisecond {
		t.Errorf("answered after %v, before the 50ms latency", got)
	}

	s.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req := call{body: benignBody}.request(t, s.URL).WithContext(ctx)
	resp, err := s.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %s within the client deadline", resp.Status)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	if s.Requests(assurancehub.Bias) != 1 {
		t.Errorf("Requests(bias) = %d, want 1", s.Requests(assurancehub.Bias))
	}
}

func TestRateLimit(t *testing.T) {
	type step struct {
		wait       time.Duration // before the request
		status     int
		retryAfter string
	}
	tests := []struct {
		name       string
		perSecond  int
		retryAfter string
		faults     []Fault
		steps      []step
	}{
		{"two per second", 2, "1", nil, []step{
			{0, 200, ""}, {0, 200, ""}, {0, 429, "1"}, {500 * time.Millisecond, 429, "1"},
			{500 * time.Millisecond, 200, ""}, // next second
			{0, 200, ""}, {0, 429, "1"},
			{3 * time.Second, 200, ""},
		}},
		{"no Retry-After", 1, "", nil, []step{{0, 200, ""}, {0, 429, ""}}},
		{"disabled", 0, "1", nil, []step{{0, 200, ""}, {0, 200, ""}, {0, 200, ""}}},
		{"faulted requests do not count", 1, "2", []Fault{Status(500), Status(500)}, []step{
			{0, 500, ""}, {0, 500, ""}, {0, 200, ""}, {0, 429, "2"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, err := NewHandler()
				if err != nil {
					t.Fatal(err)
				}
				client := servePipe(t, h)
				h.SetRateLimit(tc.perSecond, tc.retryAfter)
				h.FailNext(tc.faults...)
				evaluated := 0
				for i, st := range tc.steps {
					time.Sleep(st.wait)
					status, header, err := post(t.Context(), client)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					if status != st.status || header.Get("Retry-After") != st.retryAfter {
						t.Errorf("request %d at %v: status %d Retry-After %q; want %d %q",
							i, time.Now().UTC().Format("15:04:05.000"), status, header.Get("Retry-After"), st.status, st.retryAfter)
					}
					if status == 200 {
						evaluated++
					}
				}
				if h.Requests(assurancehub.Bias) != evaluated {
					t.Errorf("Requests(bias) = %d, want %d", h.Requests(assurancehub.Bias), evaluated)
				}
			})
		})
	}
}

// TestRateLimitLoopback checks the limiter on a real socket: of three
// requests sent within one second at most two fall into different
// calendar seconds, so at least one is over a limit of one per second.
func TestRateLimitLoopback(t *testing.T) {
	s := newServer(t)
	s.SetRateLimit(1, "1")
	start := time.Now()
	limited := 0
	for range 3 {
		r := send(t, s.Client(), s.URL, call{body: benignBody})
		if r.status == http.StatusTooManyRequests {
			limited++
			if r.header.Get("Retry-After") != "1" || string(r.body) != `{"error":"Rate limit exceeded"}` {
				t.Errorf("429 with Retry-After %q body %s", r.header.Get("Retry-After"), r.body)
			}
		}
	}
	if time.Since(start) >= time.Second {
		t.Skip("requests took a second or more; the limit cannot be checked")
	}
	if limited == 0 || limited > 2 {
		t.Errorf("%d of 3 requests limited, want 1 or 2", limited)
	}
}
