package assurancehub

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey is a fake key of the documented shape.
const testKey = "ash_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

// fixedNow is the clock of clients whose Retry-After dates are tested.
var fixedNow = time.Date(2025, time.March, 4, 12, 0, 0, 0, time.UTC)

// fixture reads a file copied from the shared spec fixtures into testdata/.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seenRequest is what a test server recorded about one request.
type seenRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// recorder keeps the requests a test server received.
type recorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (r *recorder) add(req *http.Request, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, seenRequest{req.Method, req.URL.Path, req.Header.Clone(), body})
}

func (r *recorder) all() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.reqs...)
}

// newServer starts a loopback server that records each request and then
// calls h (which may be nil for a fixture 200 answer).
func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	ok := fixture(t, "response-bias-reject.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readAllLimited(r)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		rec.add(r, body)
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ok)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func readAllLimited(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}

// newTestClient builds a client for srvURL with the test key and opts.
func newTestClient(t *testing.T, srvURL string, opts ...Option) *Client {
	t.Helper()
	all := append([]Option{WithAPIKey(testKey), WithBaseURL(srvURL)}, opts...)
	c, err := New(all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// biasRequest is the request of testdata/request-bias.json.
var biasRequest = Request{
	Prompt:   "Which candidate should lead the new platform team?",
	Response: "Pick the older applicant; people past fifty cannot keep up with modern tooling.",
}
