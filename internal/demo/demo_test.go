package demo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"

	"github.com/safecheck/safecheck"
)

func TestAnswerMisbehavesOnCue(t *testing.T) {
	if !strings.Contains(Answer("Please insult me."), "idiot") || Answer("capital?") == Answer("insult") {
		t.Error("the demo model does not misbehave on cue")
	}
}

func TestAccountingInWords(t *testing.T) {
	routes := []safecheck.RouteStats{{Name: "chat", Requests: 100}, {Name: "completions", Requests: 20}}
	tests := []struct {
		name  string
		stats safecheck.Stats
		want  string
	}{
		{"all checked", safecheck.Stats{Routes: routes, Sampled: 14, Checked: 12, CacheHits: 2, APICalls: 1},
			"  120 requests, 14 sampled: 12 checked, 2 answered from the cache, 0 dropped, 0 failed, 0 in flight\n" +
				"  1 call to the API, 0 retries\n"},
		{"drops and failures", safecheck.Stats{Routes: routes[:1], Sampled: 9, Checked: 2, InFlight: 1,
			Dropped: map[drop.Reason]uint64{drop.Shutdown: 1, drop.QueueFull: 3},
			Failed:  map[failure.Class]uint64{failure.Server: 2}, APICalls: 7, APIRetries: 1},
			"  100 requests, 9 sampled: 2 checked, 0 answered from the cache, 4 dropped (queue full 3, shutdown 1), " +
				"2 failed (server error 2), 1 in flight\n  7 calls to the API, 1 retry\n"},
		{"one request", safecheck.Stats{Routes: []safecheck.RouteStats{{Name: "chat", Requests: 1}}, Sampled: 1, CacheHits: 1},
			"  1 request, 1 sampled: 0 checked, 1 answered from the cache, 0 dropped, 0 failed, 0 in flight\n" +
				"  0 calls to the API, 0 retries\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewStory(&buf).Accounting(tt.stats)
			if buf.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
}

func TestStoryRoundsAndClose(t *testing.T) {
	var buf bytes.Buffer
	s := NewStory(&buf)
	route := func(req, sampled uint64, eff float64) safecheck.Stats {
		return safecheck.Stats{Routes: []safecheck.RouteStats{{Name: "chat", SampleRate: 0.2, EffectiveRate: eff, Requests: req, Sampled: sampled}}}
	}
	s.Step("before: %d requests", 20)
	s.Sampled(route(20, 4, 0.2))
	s.Step("incident")
	s.Sampled(route(40, 24, 1))
	s.Verdicts(safecheck.Stats{Routes: []safecheck.RouteStats{{TestTypes: []string{"toxicity", "pii"}}}, TestTypes: map[string]safecheck.TestTypeStats{
		"toxicity": {Checks: 24, Flagged: 5, Cached: 10}, "pii": {Checks: 3, Errors: 1}}})
	s.Closed(nil)
	s.Closed(errors.New("safecheck: closed with 3 samples not checked: context deadline exceeded"))
	want := `
1. before: 20 requests
  chat  20 requests, sampled  4 (rate 20 %)

2. incident
  chat  20 requests, sampled 20 (rate 20 %, effective 100 %)
  test type  checks  flagged  from cache  errors
  toxicity       24        5          10       0
  pii             3        0           0       1
  guard.Close returned nil: every sample was checked before its deadline
  guard.Close returned: safecheck: closed with 3 samples not checked: context deadline exceeded
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestRecordsKeepsOneOfEach(t *testing.T) {
	r := &Records{}
	var wg sync.WaitGroup
	for _, line := range []string{
		`{"msg":"incident started","audit":true}`,
		`{"msg":"safecheck verdict","flagged":false,"n":1}`,
		`{"msg":"safecheck verdict: flagged","flagged":true,"n":2}`,
		`{"msg":"safecheck verdict","flagged":false,"n":3}`,
		`not json`,
	} {
		wg.Go(func() { r.Write([]byte(line + "\n")) })
	}
	wg.Wait()
	var buf bytes.Buffer
	r.Show(NewStory(&buf), "stderr")
	out := buf.String()
	if !strings.HasPrefix(out, "  3 verdict records, one per check, without the prompt or the answer, went to stderr; two of them:\n") ||
		!strings.Contains(out, `  {"msg":"safecheck verdict: flagged","flagged":true,"n":2}`+"\n") || !strings.Contains(out, `"flagged":false`) {
		t.Errorf("Show:\n%s", out)
	}
	buf.Reset()
	(&Records{}).Show(NewStory(&buf), "records.jsonl")
	if buf.String() != "  0 verdict records, one per check, without the prompt or the answer, went to records.jsonl.\n" {
		t.Errorf("Show without records: %q", buf.String())
	}
}

// TestTrafficAndMetrics sends the demo traffic to a loopback server and
// reads the effective rates from its metrics page.
func TestTrafficAndMetrics(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	mux := http.NewServeMux()
	for _, p := range []string{"POST /v1/chat/completions", "POST /v1/completions"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			if r.Header.Get("Content-Type") == "application/json" && r.Header.Get("X-Customer-ID") != "" && len(b) > 0 {
				got[p]++
			}
		})
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE safecheck_sample_rate gauge\n"+
			`safecheck_sample_rate{kind="configured",route="chat"} 0.2`+"\n"+
			`safecheck_sample_rate{kind="effective",route="POST /v1/chat"} 1`+"\n"+
			`safecheck_sample_rate{kind="effective",route="chat"} 1`+"\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if err := Traffic(context.Background(), srv.URL, 7); err != nil {
		t.Fatal(err)
	}
	if got["POST /v1/chat/completions"] != 7 || got["POST /v1/completions"] != 7 {
		t.Errorf("requests %v, want 7 on each route", got)
	}
	var buf bytes.Buffer
	NewStory(&buf).Metrics(context.Background(), srv.URL+"/metrics")
	if want := "  /metrics: safecheck_sample_rate{kind=\"effective\"} is POST /v1/chat 1, chat 1\n"; buf.String() != want {
		t.Errorf("Metrics: %q, want %q", buf.String(), want)
	}
	if err := Traffic(context.Background(), srv.URL+"/nowhere", 1); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Traffic to a wrong URL: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Traffic(ctx, srv.URL, 1); !Interrupted(ctx, err) {
		t.Errorf("Traffic after the end of ctx: %v, not an interruption", err)
	}
}
