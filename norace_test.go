//go:build !race

package safecheck

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
)

// Under -race, sync.Pool drops items at random; without it, on one P, the
// capture a finished sample releases is the next one handed out, which is
// what this test needs.

func TestLateWriterNeverReachesAnotherSample(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		g := newGuard(t, rec)
		var kept http.ResponseWriter
		leaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			if kept == nil {
				kept = w // a handler that keeps its writer past its return
			} else {
				kept.Write([]byte(" LEAKED-FROM-THE-FIRST-REQUEST"))
			}
			w.Write([]byte("answer for " + r.Header.Get("X-Customer")))
		})
		rt := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"),
			WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer") }))
		h := rt.Wrap(leaky)
		for _, customer := range []string{"alice", "bob"} {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("question of "+customer))
			r.Header.Set("X-Customer", customer)
			h.ServeHTTP(httptest.NewRecorder(), r)
			settle() // checked and released: the capture is back in the pool
		}
		closeGuard(t, g)
		reqs := rec.requests()
		if len(reqs) != 2 {
			t.Fatalf("checked %d samples, want 2", len(reqs))
		}
		for _, req := range reqs {
			if strings.Contains(req.Response, "LEAKED") {
				t.Errorf("customer %s's sample holds another request's bytes: %q", req.CustomerID, req.Response)
			}
		}
	})
}
