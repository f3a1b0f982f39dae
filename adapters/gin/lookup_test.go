package safecheckgin

import (
	"fmt"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
)

// TestLookup checks the route table on both sides of scanLimit: a method
// with few routes is scanned, one with many is a map.
func TestLookup(t *testing.T) {
	g := newGuard(t, &recorder{})
	var opts []Option
	for _, c := range []struct {
		method string
		n      int
	}{{"GET", 2}, {"POST", scanLimit}, {"PUT", scanLimit + 1}, {"PATCH", 3 * scanLimit}} {
		for i := range c.n {
			opts = append(opts, WithRoute(c.method, fmt.Sprintf("/r/%d/:id", i)))
		}
	}
	m, err := newMiddleware(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GET": 2, "POST": scanLimit, "PUT": scanLimit + 1, "PATCH": 3 * scanLimit}
	for method, n := range want {
		for i := range n + 1 {
			path := fmt.Sprintf("/r/%d/:id", i)
			rt := m.lookup(method, path)
			switch {
			case i < n && (rt == nil || rt.Name() != method+" "+path):
				t.Errorf("lookup(%s, %s) = %v", method, path, rt)
			case i == n && rt != nil:
				t.Errorf("lookup(%s, %s) = %s, want none", method, path, rt.Name())
			}
		}
	}
	for _, miss := range [][2]string{{"DELETE", "/r/0/:id"}, {"GET", ""}, {"", "/r/0/:id"}, {"get", "/r/0/:id"}} {
		if rt := m.lookup(miss[0], miss[1]); rt != nil {
			t.Errorf("lookup(%q, %q) = %s, want none", miss[0], miss[1], rt.Name())
		}
	}
	if got := len(g.Stats().Routes); got != 2+2*scanLimit+1+3*scanLimit {
		t.Errorf("%d routes registered", got)
	}
}

// TestDefaultRouteSkipsUnmatched checks that WithDefaultRoute does not
// sample 404 answers when mounted on the engine.
func TestDefaultRouteSkipsUnmatched(t *testing.T) {
	g := newGuard(t, &recorder{})
	e := gin.New()
	e.Use(mustMiddleware(t, g,
		WithRoute("GET", "/listed", safecheck.WithSampleRate(0)),
		WithDefaultRoute("rest", safecheck.WithSampleRate(1))))
	e.GET("/listed", func(c *gin.Context) { c.String(200, "listed") })
	e.GET("/other", func(c *gin.Context) { c.String(200, "other") })
	srv := serve(t, e)
	for _, p := range []string{"/listed", "/other", "/missing"} {
		do(t, srv.Client(), newRequest(t, "GET", srv.URL+p, "", nil))
	}
	s := g.Stats()
	listed, _ := routeStats(s, "GET /listed")
	rest, _ := routeStats(s, "rest")
	if listed.Requests != 1 || listed.Sampled != 0 || rest.Requests != 1 || rest.Sampled != 1 {
		t.Errorf("listed %d/%d, rest %d/%d requests/sampled; want 1/0 and 1/1",
			listed.Requests, listed.Sampled, rest.Requests, rest.Sampled)
	}
}
