package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safecheck/safecheck"
)

func TestNewRefusesNoGuardAndAClosedOne(t *testing.T) {
	if h, err := New(nil, WithToken("alice", aliceToken)); err == nil || h != nil || !strings.Contains(err.Error(), "nil *safecheck.Guard") {
		t.Errorf("New(nil) = %v, %v", h, err)
	}
	g := newGuard(t)
	closeGuard(t, g)
	if h, err := New(g, WithToken("alice", aliceToken)); !errors.Is(err, safecheck.ErrClosed) || h != nil {
		t.Errorf("New after Close = %v, %v; want ErrClosed", h, err)
	}
}

// TestNewDoesNotWaitForSamples: telling whether the guard is closed never
// waits for the samples it is checking.
func TestNewDoesNotWaitForSamples(t *testing.T) {
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	blocked := safecheck.CheckerFunc(func(ctx context.Context, _ safecheck.CheckRequest) (safecheck.Verdict, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return safecheck.Verdict{PassFail: "pass"}, nil
	})
	g, err := safecheck.New(blocked, safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeGuard(t, g) })
	t.Cleanup(free) // cleanups run last first: the checker is free before Close
	rt, err := g.Route("chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"))
	if err != nil {
		t.Fatal(err)
	}
	rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		io.WriteString(w, "an answer")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("a question")))
	if s := g.Stats(); s.InFlight != 1 {
		t.Fatalf("in flight %d, want 1", s.InFlight)
	}
	done := make(chan error, 1)
	go func() {
		_, err := New(g, WithToken("alice", aliceToken))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("New: %v", err)
		}
	case <-time.After(5 * time.Second):
		free()
		<-done
		t.Error("New waited for the sample in flight")
	}
}

// TestRouting: the mux's patterns route every endpoint; what they do not
// match gets the handler's JSON 404, a method an endpoint does not take a
// JSON 405 with the Allow header, and a path that is not clean is neither
// redirected (the redirect would lose the mount prefix) nor a problem for a
// route name in it. The handler is mounted without a ServeMux in front, as
// routers that leave paths as they are (gin's) mount it, so every path
// reaches it as sent.
func TestRouting(t *testing.T) {
	f := newAdminFixture(t)
	mustRoute(t, f.g, "GET /static/", safecheck.WithSampleRate(0.1), safecheck.WithTestTypes("toxicity"))
	mustRoute(t, f.g, "a//b", safecheck.WithSampleRate(0.1), safecheck.WithTestTypes("toxicity"))
	h, err := New(f.g, WithToken("alice", aliceToken))
	if err != nil {
		t.Fatal(err)
	}
	raw := httptest.NewServer(http.StripPrefix("/admin", h))
	t.Cleanup(raw.Close)
	f.srv = raw

	tests := []struct {
		method, path, body string
		status             int
		allow              string // the Allow header of a 405
		route              string // the route a 200 changed
	}{
		{"GET", "/state", "", 200, "", ""},
		{"HEAD", "/state", "", 200, "", ""},
		{"POST", "/state", "{}", 405, "GET, HEAD", ""},
		{"DELETE", "/state", "", 405, "GET, HEAD", ""},
		{"GET", "/incident", "", 405, "DELETE, POST", ""},
		{"PUT", "/incident", "{}", 405, "DELETE, POST", ""},
		{"OPTIONS", "/rate", "", 405, "PUT", ""},
		{"GET", "/routes/chat/rate", "", 405, "PUT", ""},
		{"PUT", "/routes/chat/rate", `{"rate":0.3}`, 200, "", "chat"},
		{"PUT", "/routes/GET%20/static//rate", `{"rate":0.3}`, 200, "", "GET /static/"},
		{"PUT", "/routes/GET%20%2Fstatic%2F/rate", `{"rate":0.3}`, 200, "", "GET /static/"},
		{"PUT", "/routes/a//b/rate", `{"rate":0.3}`, 200, "", "a//b"},
		{"PUT", "/routes/./chat/rate", `{"rate":0.3}`, 404, "", ""},  // no route "./chat"
		{"PUT", "/routes/chat/../rate", `{"rate":0.3}`, 404, "", ""}, // no route "chat/.."
		{"PUT", "/routes//rate", `{"rate":0.3}`, 404, "", ""},
		{"PUT", "/routes/rate", `{"rate":0.3}`, 404, "", ""},
		{"PUT", "/routes/", `{"rate":0.3}`, 404, "", ""},
		{"PUT", "/routes", `{"rate":0.3}`, 404, "", ""},
		{"GET", "/routes/chat", "", 404, "", ""},
		{"GET", "/routes", "", 404, "", ""},
		{"GET", "/state/", "", 404, "", ""},
		{"GET", "//state", "", 404, "", ""},
		{"GET", "/./state", "", 404, "", ""},
		{"GET", "/nothing/../state", "", 404, "", ""},
		{"GET", "/", "", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := f.do(t, adminCall{method: tt.method, path: tt.path, body: tt.body, token: aliceToken})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("Location %q", loc)
			}
			if tt.method == "HEAD" {
				return
			}
			if tt.status == 404 && (r.json["mounted_at"] != "/admin" || r.json["endpoints"] == nil) &&
				!strings.HasPrefix(r.json["error"].(string), "unknown route") {
				t.Errorf("404 without the mount: %s", r.raw)
			}
			if tt.status >= 400 && r.json["error"] == nil {
				t.Errorf("no error message: %s", r.raw)
			}
			if tt.route != "" && r.json["route"] != tt.route {
				t.Errorf("changed route %v, want %q", r.json["route"], tt.route)
			}
		})
	}
}
