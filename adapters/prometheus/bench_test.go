package safecheckprom_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/safecheck/safecheck"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
)

// benchWriter is a reusable ResponseWriter, so the benchmark measures the
// middleware and not a recorder.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// BenchmarkMiddleware runs the net/http middleware on a route that is not
// sampled, without and with the collector registered and scraped
// concurrently (100 scrapes a second, far more than any Prometheus server
// asks for), in one run: scraping must not slow the request path.
func BenchmarkMiddleware(b *testing.B) {
	guard, err := safecheck.New(safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{RiskLevel: "low", PassFail: "pass"}, nil
	}), safecheck.WithLogger(slog.New(slog.DiscardHandler)), safecheck.WithQueue(1<<16, 1<<30))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { guard.Close(context.Background()) })
	unsampled, err := guard.Route("unsampled", safecheck.WithSampleRate(0), safecheck.WithTestTypes("toxicity"))
	if err != nil {
		b.Fatal(err)
	}
	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)

	data := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 23)[:1024])
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(data)
	})
	for _, bc := range []struct {
		name   string
		route  *safecheck.Route
		scrape bool
	}{
		{"unsampled", unsampled, false},
		{"unsampled_scraped", unsampled, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := bc.route.Wrap(handler)
			w := &benchWriter{h: http.Header{"Content-Type": {"text/plain"}}}
			r, _ := http.NewRequest(http.MethodPost, "http://example.test/v1/chat", nil)
			r.Header.Set("Content-Type", "text/plain")
			body := &benchBody{}
			scrapes := 0
			if bc.scrape {
				stop, done := make(chan struct{}), sync.WaitGroup{}
				done.Go(func() {
					t := time.NewTicker(10 * time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-t.C:
							if _, err := reg.Gather(); err != nil {
								b.Error(err)
								return
							}
							scrapes++
						case <-stop:
							return
						}
					}
				})
				defer func() {
					close(stop)
					done.Wait()
					b.ReportMetric(float64(scrapes)/b.Elapsed().Seconds(), "scrapes/s")
				}()
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				body.Reset(data)
				r.Body = body
				h.ServeHTTP(w, r)
			}
		})
	}
}
