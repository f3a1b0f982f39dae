package safecheck

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/escalation"
	"github.com/safecheck/safecheck/internal/benchrig"
	"github.com/safecheck/safecheck/internal/syncbuf"
)

const (
	llmPrompt = `{"model":"m","stream":%t,"messages":[{"role":"user","content":"what is the answer?"}]}`
	llmAnswer = "The answer is UNSAFE."
)

// llmChunks are the pieces a streamed answer arrives in: the marker
// UNSAFE is split across two of them.
var llmChunks = []string{"The ", "answer is UN", "SAFE", "."}

// llmServer answers like a chat completions API. Paths: /json, /stream
// (one event per chunk, each sent only once the client has read the one
// before), /trailer, /gzip (gzipped when the client accepts it), /head,
// /nocontent, /fail (500), /abort (the connection or stream is broken).
func llmServer(t *testing.T, h2 bool) (*httptest.Server, http.RoundTripper, chan struct{}) {
	t.Helper()
	next := make(chan struct{})
	mux := http.NewServeMux()
	json := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Llm", "yes")
		fmt.Fprintf(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%q}}]}`, llmAnswer)
	}
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); json(w) })
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Tokens")
		json(w)
		w.Header().Set("X-Tokens", "42")
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			json(w)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		json(httptestWriter{w, zw})
		zw.Close()
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range llmChunks {
			fmt.Fprintf(w, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", c)
			w.(http.Flusher).Flush()
			select { // the next event waits until the client has read this one
			case <-next:
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				return
			}
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Llm", "yes") })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusInternalServerError)
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		panic(http.ErrAbortHandler)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	base := srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return srv, base, next
}

// httptestWriter is a ResponseWriter whose body goes to another writer.
type httptestWriter struct {
	http.ResponseWriter
	w io.Writer
}

func (w httptestWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

// observed is what a caller sees of one call.
type observed struct {
	err          bool
	status       int
	proto        string
	header       http.Header
	body         string
	readErr      string
	trailer      http.Header
	length       int64
	uncompressed bool
	closeErr     error
	sameRequest  bool // resp.Request is the caller's request
}

// call makes one request through rt and records what the caller sees.
// Event streams are read one event at a time, telling the server after
// each; stopAfter > 0 closes the body after that many events.
func call(t *testing.T, rt http.RoundTripper, next chan struct{}, req *http.Request, stopAfter int) observed {
	t.Helper()
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return observed{err: true}
	}
	o := observed{status: resp.StatusCode, proto: resp.Proto, header: resp.Header.Clone(), length: resp.ContentLength, uncompressed: resp.Uncompressed}
	o.header.Del("Date")
	o.sameRequest = resp.Request == req
	var body bytes.Buffer
	if o.header.Get("Content-Type") == "text/event-stream" {
		br := bufio.NewReader(resp.Body)
		for events := 0; ; {
			line, err := br.ReadString('\n')
			body.WriteString(line)
			if err != nil {
				if err != io.EOF {
					o.readErr = err.Error()
				}
				break
			}
			if line != "\n" || strings.Contains(body.String(), "[DONE]") {
				continue
			}
			if events++; events == stopAfter {
				break
			}
			select {
			case next <- struct{}{}:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server never asked for the next event: the event was not passed on as it came")
			}
		}
	} else if _, err := io.Copy(&body, resp.Body); err != nil {
		o.readErr = err.Error()
	}
	o.body = body.String()
	o.closeErr = resp.Body.Close()
	o.trailer = resp.Trailer
	return o
}

func postLLM(t *testing.T, ctx context.Context, method, url string, stream bool) *http.Request {
	t.Helper()
	var body io.Reader
	if method != http.MethodGet && method != http.MethodHead {
		body = strings.NewReader(fmt.Sprintf(llmPrompt, stream))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// TestTransportCallerSeesNoDifference makes each call through the bare
// transport and through the route's, over HTTP/1.1 and HTTP/2, and
// compares what the caller sees; the calls that can be checked are
// checked, and the others count as unsampled.
func TestTransportCallerSeesNoDifference(t *testing.T) {
	cases := []struct {
		name, method, path string
		header             string // an Accept-Encoding the caller sets itself
		stream             bool
		checked            bool
	}{
		{name: "json", method: "POST", path: "/json", checked: true},
		{name: "stream", method: "POST", path: "/stream", stream: true, checked: true},
		{name: "trailers", method: "POST", path: "/trailer", checked: true},
		{name: "gzip decoded by the transport", method: "POST", path: "/gzip", checked: true},
		{name: "gzip read by the caller", method: "POST", path: "/gzip", header: "gzip", checked: true},
		{name: "head", method: "HEAD", path: "/head"},
		{name: "get without a body", method: "GET", path: "/json"},
		{name: "no content", method: "POST", path: "/nocontent"},
		{name: "server error", method: "POST", path: "/fail"},
		{name: "broken connection", method: "POST", path: "/abort"},
	}
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			srv, base, next := llmServer(t, h2)
			rec := &recorder{}
			var outs outcomes
			g := newGuard(t, rec, WithOnVerdict(outs.add))
			route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
			wrapped := route.Transport(base)
			checked := 0
			for _, tc := range cases {
				make := func() *http.Request {
					req := postLLM(t, context.Background(), tc.method, srv.URL+tc.path, tc.stream)
					if tc.header != "" {
						req.Header.Set("Accept-Encoding", tc.header)
					}
					return req
				}
				want := call(t, base, next, make(), 0)
				got := call(t, wrapped, next, make(), 0)
				if h2 { // resp.Request is the caller's on a new connection only
					want.sameRequest, got.sameRequest = false, false
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: through the transport the caller sees\n%+v\nwithout it\n%+v", tc.name, got, want)
				}
				if h2 && !want.err && want.proto != "HTTP/2.0" {
					t.Errorf("%s: proto %s, want HTTP/2.0", tc.name, want.proto)
				}
				if tc.checked {
					checked++
				}
			}
			flush(t, g)
			s := g.Stats()
			checkAccounting(t, s)
			if s.Sampled != uint64(checked) || s.Checked != 1 || s.CacheHits != uint64(checked-1) || s.Routes[0].Requests != uint64(len(cases)) {
				t.Errorf("sampled %d, checked %d, cache hits %d, requests %d; want %d samples of %d requests, each the same exchange",
					s.Sampled, s.Checked, s.CacheHits, s.Routes[0].Requests, checked, len(cases))
			}
			if reqs := rec.requests(); len(reqs) != 1 || reqs[0].Prompt != "what is the answer?" || reqs[0].Response != llmAnswer {
				t.Errorf("checker got %+v", reqs)
			}
			for _, o := range outs.all() {
				if o.Partial || !o.Outbound {
					t.Errorf("outcome %+v: want whole and outbound", o)
				}
			}
		})
	}
}

func flush(t *testing.T, g *Guard) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTransportCutShortIsCheckedAsPartial closes a stream and a JSON body
// before their end, and cancels a stream's context: each is checked as
// partial, and the caller sees what it sees without the transport.
func TestTransportCutShortIsCheckedAsPartial(t *testing.T) {
	srv, base, next := llmServer(t, false)
	for _, tc := range []struct {
		name   string
		stream bool
		cancel bool
	}{
		{name: "stream closed early", stream: true},
		{name: "stream canceled", stream: true, cancel: true},
		{name: "json closed early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var outs outcomes
			g := newGuard(t, rec, WithOnVerdict(outs.add))
			route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
			run := func(rt http.RoundTripper) observed {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				path := "/json"
				if tc.stream {
					path = "/stream"
				}
				resp, err := (&http.Client{Transport: rt}).Do(postLLM(t, ctx, "POST", srv.URL+path, tc.stream))
				if err != nil {
					t.Fatal(err)
				}
				var o observed
				if tc.stream { // the first event, which the server sends alone
					line, err := bufio.NewReaderSize(resp.Body, 16).ReadString('}')
					o.body, o.readErr = line, fmt.Sprint(err)
				} else {
					buf := make([]byte, 100)
					n, err := io.ReadFull(resp.Body, buf)
					o.body, o.readErr = string(buf[:n]), fmt.Sprint(err)
				}
				if tc.cancel {
					cancel()
					_, err := io.ReadAll(resp.Body)
					o.readErr = fmt.Sprint(err)
				}
				o.closeErr = resp.Body.Close()
				return o
			}
			want, got := run(base), run(route.Transport(base))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("through the transport %+v, without it %+v", got, want)
			}
			flush(t, g)
			checkAccounting(t, g.Stats())
			o := outs.all()
			if len(o) != 1 || !o[0].Partial || !o[0].Outbound {
				t.Fatalf("outcomes %+v, want one, partial and outbound", o)
			}
			if tc.stream && (o[0].Format != "openai.chat.stream" || rec.requests()[0].Response != "The ") {
				t.Errorf("format %s, response %q: want the text read before the cut", o[0].Format, rec.requests()[0].Response)
			}
		})
	}
	select { // the bare call's stream handler waits for its next event
	case next <- struct{}{}:
	default:
	}
}

// TestTransportRetryIsItsOwnExchange sends a 500 and then a 200, as an SDK
// retries: only the answer is a sample.
func TestTransportRetryIsItsOwnExchange(t *testing.T) {
	srv, base, _ := llmServer(t, false)
	rec := &recorder{}
	g := newGuard(t, rec)
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
	client := &http.Client{Transport: route.Transport(base)}
	for _, path := range []string{"/fail", "/json"} {
		resp, err := client.Do(postLLM(t, context.Background(), "POST", srv.URL+path, false))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	flush(t, g)
	s := g.Stats()
	checkAccounting(t, s)
	if s.Sampled != 1 || s.Checked != 1 || s.Routes[0].Requests != 2 || len(rec.requests()) != 1 {
		t.Errorf("sampled %d, checked %d of %d requests, want 1 of 2", s.Sampled, s.Checked, s.Routes[0].Requests)
	}
}

// rewindingTransport reads part of the body, rewinds it with GetBody and
// sends it whole, as http.Transport does when a reused connection was lost.
type rewindingTransport struct{}

func (rewindingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	io.ReadFull(req.Body, make([]byte, 7))
	req.Body.Close()
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, body)
	body.Close()
	answer := fmt.Sprintf(`{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%q}}]}`, llmAnswer)
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(answer)),
		Body: io.NopCloser(strings.NewReader(answer))}, nil
}

// TestTransportTeesEachRewoundBody checks that a body the base sends again
// through GetBody is copied once, whole.
func TestTransportTeesEachRewoundBody(t *testing.T) {
	rec := &recorder{}
	var outs outcomes
	g := newGuard(t, rec, WithOnVerdict(outs.add))
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
	resp, err := (&http.Client{Transport: route.Transport(rewindingTransport{})}).
		Do(postLLM(t, context.Background(), "POST", "http://llm.test/v1/chat/completions", false))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	flush(t, g)
	checkAccounting(t, g.Stats())
	reqs, o := rec.requests(), outs.all()
	if len(reqs) != 1 || reqs[0].Prompt != "what is the answer?" || len(o) != 1 || o[0].Partial {
		t.Errorf("checker got %+v, outcomes %+v: want the prompt once, whole", reqs, o)
	}
}

// TestTransportIDsComeFromTheContext sets the ids with ContextWithIDs and
// falls back to the route's functions for the ones the context lacks.
func TestTransportIDsComeFromTheContext(t *testing.T) {
	srv, base, _ := llmServer(t, false)
	buf := &syncBuffer{}
	var outs outcomes
	g := newGuard(t, &recorder{}, WithOnVerdict(outs.add), WithLogger(jsonLogger(buf)), WithRawCustomerIDs())
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"),
		WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer") }))
	client := &http.Client{Transport: route.Transport(base)}
	for _, ctx := range []context.Context{
		ContextWithIDs(context.Background(), "acme", "req-1"),
		ContextWithIDs(context.Background(), "", "req-2"),
	} {
		req := postLLM(t, ctx, "POST", srv.URL+"/json", false)
		req.Header.Set("X-Customer", "from-header")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		flush(t, g)
	}
	o := outs.all()
	if len(o) != 2 || o[0].CustomerID != "acme" || o[0].RequestID != "req-1" || o[1].CustomerID != "from-header" || o[1].RequestID != "req-2" {
		t.Errorf("outcomes %+v", o)
	}
	records := syncbuf.Records(t, buf.String())
	n := 0
	for _, r := range records {
		if msg, _ := r["msg"].(string); strings.HasPrefix(msg, "safecheck verdict") {
			n++
			if r["direction"] != "outbound" {
				t.Errorf("verdict record %v lacks direction=outbound", r)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d verdict records, want 2:\n%s", n, buf.String())
	}
	checkAccounting(t, g.Stats())
}

// TestInboundRecordsSayInbound pins the direction of a served request's
// records.
func TestInboundRecordsSayInbound(t *testing.T) {
	buf := &syncBuffer{}
	g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)))
	route := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"))
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(fmt.Sprintf(llmPrompt, false)))
	route.Wrap(chatHandler(llmAnswer)).ServeHTTP(httptest.NewRecorder(), req)
	flush(t, g)
	checkAccounting(t, g.Stats())
	if !strings.Contains(buf.String(), `"direction":"inbound"`) {
		t.Errorf("no direction=inbound in:\n%s", buf.String())
	}
}

// fixedTransport answers every request with the same response, without
// allocating, so that the wrapper's own allocations are what is counted.
type fixedTransport struct{ resp *http.Response }

func (f fixedTransport) RoundTrip(*http.Request) (*http.Response, error) { return f.resp, nil }

// TestTransportAllocations pins the unsampled path at no allocation, for a
// call with a body on a route at rate 0 and for a call without one.
func TestTransportAllocations(t *testing.T) {
	g := newGuard(t, instant)
	route := mustRoute(t, g, "llm", WithSampleRate(0), WithTestTypes("toxicity"))
	tr := route.Transport(fixedTransport{&http.Response{StatusCode: 200, Body: http.NoBody}})
	withBody, _ := http.NewRequest(http.MethodPost, "http://llm.test/", strings.NewReader("x"))
	without, _ := http.NewRequest(http.MethodGet, "http://llm.test/", nil)
	for _, req := range []*http.Request{withBody, without} {
		if n := testing.AllocsPerRun(200, func() { tr.RoundTrip(req) }); n != 0 {
			t.Errorf("%s: %v allocs per unsampled call, want 0", req.Method, n)
		}
	}
}

// TestTransportAfterCloseCallsGoThrough checks that a closed guard's
// transport still carries calls, unsampled and counted.
func TestTransportAfterCloseCallsGoThrough(t *testing.T) {
	srv, base, _ := llmServer(t, false)
	g := newGuard(t, &recorder{})
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
	closeGuard(t, g)
	resp, err := (&http.Client{Transport: route.Transport(base)}).Do(postLLM(t, context.Background(), "POST", srv.URL+"/json", false))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), llmAnswer) {
		t.Errorf("body %q", b)
	}
	if s := g.Stats(); s.Sampled != 1 || s.Dropped[dropPublic[dropClosed]] != 1 {
		t.Errorf("stats %+v, want the call dropped as closed", s)
	}
	if tr := route.Transport(nil); tr.(*transport).base != http.DefaultTransport {
		t.Error("a nil base is not http.DefaultTransport")
	}
}

// benchLLM serves a chat completion of about size bytes as JSON (/json) or
// as an event stream of 64-byte deltas (/stream).
func benchLLM(tb testing.TB, size int) *httptest.Server {
	text := string(benchrig.Text(size))
	answer := fmt.Sprintf(`{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%q}}]}`, text)
	var events strings.Builder
	for i := 0; i < len(text); i += 64 {
		fmt.Fprintf(&events, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", text[i:min(i+64, len(text))])
	}
	events.WriteString("data: [DONE]\n\n")
	stream := events.String()
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// BenchmarkTransport compares the route's transport with the bare one in
// one run, over loopback: a 1 KiB prompt, and a 1 KiB answer as JSON or as
// a stream. The _no_network pair measures the wrapper alone, around a base
// that answers at once. Allocations include the background workers' work.
func BenchmarkTransport(b *testing.B) {
	srv := benchLLM(b, 1024)
	base := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(base.CloseIdleConnections)
	g := benchGuard(b, instant)
	unsampled := mustRoute(b, g, "unsampled", WithSampleRate(0), WithTestTypes("toxicity"))
	sampled := mustRoute(b, g, "sampled", WithSampleRate(1), WithTestTypes("toxicity"))
	prompt := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":%q}]}`, benchrig.Text(1024))
	fixed := fixedTransport{&http.Response{StatusCode: 200, Body: http.NoBody}}
	cases := []struct {
		name, path string
		rt         http.RoundTripper
	}{
		{"bare", "/json", base},
		{"unsampled", "/json", unsampled.Transport(base)},
		{"sampled_1KiB", "/json", sampled.Transport(base)},
		{"sampled_stream", "/stream", sampled.Transport(base)},
		{"bare_no_network", "", fixed},
		{"unsampled_no_network", "", unsampled.Transport(fixed)},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			if bc.path == "" {
				req, _ := http.NewRequest(http.MethodPost, "http://llm.test/", strings.NewReader(prompt))
				for b.Loop() {
					bc.rt.RoundTrip(req)
				}
				return
			}
			client := &http.Client{Transport: bc.rt}
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+bc.path, strings.NewReader(prompt))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.Flush(ctx)
	if s := g.Stats(); len(s.Failed) > 0 || len(s.Dropped) > 0 {
		b.Errorf("samples dropped %v or failed %v: the figures measure more than checking", s.Dropped, s.Failed)
	}
}

// TestTransportCanceledBeforeTheAnswer cancels a call while the server
// holds its answer: the caller gets the same error as without the
// transport, and the call counts as unsampled.
func TestTransportCanceledBeforeTheAnswer(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	g := newGuard(t, &recorder{})
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
	run := func(rt http.RoundTripper) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-arrived; cancel() }()
		_, err := (&http.Client{Transport: rt}).Do(postLLM(t, ctx, "POST", srv.URL, false))
		return err
	}
	want, got := run(base), run(route.Transport(base))
	if !errors.Is(want, context.Canceled) || !errors.Is(got, context.Canceled) || got.Error() != want.Error() {
		t.Errorf("through the transport: %v; without it: %v", got, want)
	}
	flush(t, g)
	s := g.Stats()
	checkAccounting(t, s)
	if s.Sampled != 0 || s.Routes[0].Requests != 1 || s.QueueSamples != 0 {
		t.Errorf("sampled %d of %d requests, %d in the queue: want the canceled call unsampled", s.Sampled, s.Routes[0].Requests, s.QueueSamples)
	}
}

// TestTransportCloseWhileReading closes a stream from another goroutine
// while the caller is blocked reading it, as an SDK's Close may: the read
// ends, and the text read so far is checked, marked partial.
func TestTransportCloseWhileReading(t *testing.T) {
	srv, base, _ := llmServer(t, false)
	rec := &recorder{}
	var outs outcomes
	g := newGuard(t, rec, WithOnVerdict(outs.add))
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
	resp, err := (&http.Client{Transport: route.Transport(base)}).Do(postLLM(t, context.Background(), "POST", srv.URL+"/stream", true))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('}'); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { _, err := io.ReadAll(br); done <- err }() // blocks: the server holds the next event
	resp.Body.Close()
	<-done
	flush(t, g)
	checkAccounting(t, g.Stats())
	if o := outs.all(); len(o) != 1 || !o[0].Partial || rec.requests()[0].Response != "The " {
		t.Errorf("outcomes %+v, checks %+v: want the first chunk, partial", o, rec.requests())
	}
}

type panickingTransport struct{}

func (panickingTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("base broke") }

// TestTransportBasePanicReachesTheCaller lets a panic of the base reach the
// caller as it would without the transport, and frees the admitted sample.
func TestTransportBasePanicReachesTheCaller(t *testing.T) {
	g := newGuard(t, &recorder{})
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"))
	func() {
		defer func() {
			if r := recover(); r != "base broke" {
				t.Errorf("recovered %v, want the base's panic", r)
			}
		}()
		route.Transport(panickingTransport{}).RoundTrip(postLLM(t, context.Background(), "POST", "http://llm.test/", false))
	}()
	s := g.Stats()
	checkAccounting(t, s)
	if s.QueueSamples != 0 || s.Sampled != 0 || s.Routes[0].Requests != 1 {
		t.Errorf("stats %+v: want the call unsampled and nothing pending", s)
	}
}

// TestTransportCallWithoutABodyTakesWithPrompt samples a GET on a route
// with WithPrompt, whose prompt comes from the outbound request.
func TestTransportCallWithoutABodyTakesWithPrompt(t *testing.T) {
	srv, base, _ := llmServer(t, false)
	rec := &recorder{}
	g := newGuard(t, rec)
	route := mustRoute(t, g, "llm", WithSampleRate(1), WithTestTypes("toxicity"),
		WithPrompt(func(r *http.Request) string { return r.URL.Query().Get("q") }))
	resp, err := (&http.Client{Transport: route.Transport(base)}).Get(srv.URL + "/json?q=what+is+the+answer")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	flush(t, g)
	checkAccounting(t, g.Stats())
	if reqs := rec.requests(); len(reqs) != 1 || reqs[0].Prompt != "what is the answer" || reqs[0].Response != llmAnswer {
		t.Errorf("checker got %+v", reqs)
	}
}

// answeringTransport answers every call with a fresh body holding answer.
type answeringTransport struct{ answer string }

func (a answeringTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader(a.answer)), Request: req}, nil
}

// TestTransportSamplesEscalatedCustomers: on an escalating route at rate 0,
// the outbound calls of a customer escalated by a flagged inbound answer
// are sampled, with the customer taken from ContextWithIDs before the
// sampling decision; another customer's are not.
func TestTransportSamplesEscalatedCustomers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		g := newGuard(t, rec)
		esc := WithEscalation(escalation.Config{Duration: time.Hour})
		chat := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"), WithCustomerID(customerHeader), esc).Wrap(answer("UNSAFE answer"))
		out := mustRoute(t, g, "llm", WithSampleRate(0), WithTestTypes("toxicity"), esc)
		client := &http.Client{Transport: out.Transport(answeringTransport{answer: "a fine answer"})}
		n := 0
		callAs := func(customer string) {
			t.Helper()
			n++ // distinct prompts: no verdict comes from the cache
			req, err := http.NewRequestWithContext(ContextWithIDs(context.Background(), customer, ""), http.MethodPost,
				"http://llm.test/v1/chat", strings.NewReader(fmt.Sprintf("question %d", n)))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "a fine answer" {
				t.Fatalf("body %q", b)
			}
			resp.Body.Close()
		}
		callAs("alice") // nobody is escalated: not sampled
		serveAs(chat, "alice", "question")
		settleEscalations()
		for range 3 {
			callAs("alice")
			callAs("bob")
		}
		settleEscalations()
		closeGuard(t, g)
		s := g.Stats()
		checkAccounting(t, s)
		for _, rs := range s.Routes {
			if rs.Name == "llm" && (rs.Requests != 7 || rs.Sampled != 3 || rs.EscalatedRequests != 3) {
				t.Errorf("llm: requests %d, sampled %d, escalated requests %d; want 7, 3, 3", rs.Requests, rs.Sampled, rs.EscalatedRequests)
			}
		}
		outbound := 0
		rec.mu.Lock()
		for _, r := range rec.reqs {
			if r.Response == "a fine answer" {
				outbound++
				if r.CustomerID != "alice" {
					t.Errorf("outbound check for customer %q, want alice", r.CustomerID)
				}
			}
		}
		rec.mu.Unlock()
		if outbound != 3 {
			t.Errorf("%d outbound checks, want 3", outbound)
		}
	})
}
