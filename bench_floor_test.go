//go:build unix

package safecheck

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/felixge/httpsnoop"
	"github.com/go-json-experiment/json/jsontext"
	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/safecheck/safecheck/internal/benchrig"
)

// BenchmarkPipelineDependencies does, for each sample of BenchmarkPipeline's
// end_to_end, the work the pipeline hands its dependencies, directly and on
// one goroutine, with nothing of ours around it: the floor under
// end_to_end's cpu-ns/op. Per sample: httpsnoop wraps the response writer
// once; jsontext reads every token of the request and of the response;
// and for each of the three test types, two go-cache lookups that miss
// (the current and the older generation), a singleflight call whose
// function looks the current generation up once more, a go-cache insert
// and one verdict record, with end_to_end's attributes, to a JSON handler
// writing to io.Discard.
func BenchmarkPipelineDependencies(b *testing.B) {
	testTypes := []string{"toxicity", "jailbreak", "pii"}
	h := slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})
	sinks := make([]slog.Handler, len(testTypes))
	for i, tt := range testTypes {
		sinks[i] = h.WithAttrs([]slog.Attr{slog.String("route", "chat"), slog.String("test_type", tt),
			slog.String("direction", "inbound")}).WithAttrs([]slog.Attr{slog.Bool("flagged", false), slog.Bool("cached", false)})
	}
	newGen := func() *gocache.Cache {
		return gocache.NewFrom(time.Hour, 0, make(map[string]gocache.Item, defaultCacheEntries/2))
	}
	cur, prev := newGen(), newGen()
	var flights singleflight.Group
	var x pipelineExchange
	var dec jsontext.Decoder
	var src bytes.Reader
	readAll := func(doc []byte) {
		src.Reset(doc)
		dec.Reset(&src, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)) // the extractors' options
		for {
			switch dec.PeekKind() {
			case 0:
				return
			case '{', '}', '[', ']':
				if _, err := dec.ReadToken(); err != nil {
					b.Fatal(err)
				}
			default:
				if _, err := dec.ReadValue(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	w := &benchrig.Writer{H: http.Header{}}
	hooks := httpsnoop.Hooks{Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc { return next }}
	verdict := &Verdict{Score: 0.12, RiskLevel: "low"}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := range b.N {
		x.fill(i)
		ww := httpsnoop.Wrap(w, hooks)
		ww.Write(x.resp[:1])
		readAll(x.req)
		readAll(x.resp)
		keys := textsKeys(testTypes, textHash{uint64(i), uint64(i) * 7})
		for j := range testTypes {
			key := keys[16*j : 16*j+16]
			if _, ok := cur.Get(key); ok {
				b.Fatal("hit")
			}
			if _, _, ok := prev.GetWithExpiration(key); ok {
				b.Fatal("hit")
			}
			flights.Do(key, func() (any, error) {
				_, ok := cur.Get(key)
				return ok, nil
			})
			if cur.ItemCount() >= defaultCacheEntries/2 {
				prev, cur = cur, newGen()
			}
			cur.Set(key, verdict, gocache.DefaultExpiration)
			rec := slog.NewRecord(time.Now(), slog.LevelInfo, "safecheck verdict", 0)
			rec.AddAttrs(slog.String("request_id", strconv.Itoa(i)), slog.Int64("response_time_ms", 0),
				slog.String("customer_id", "customer-1"), slog.Float64("score", verdict.Score), slog.String("risk_level", verdict.RiskLevel))
			_ = sinks[j].Handle(b.Context(), rec)
		}
	}
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
