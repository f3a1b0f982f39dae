package safecheck

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"github.com/safecheck/safecheck/drop"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exchange is what a client observes of one response.
type exchange struct {
	status   int
	header   http.Header
	body     []byte
	trailer  http.Header
	protocol string
}

func fetch(t *testing.T, url string, req func(*http.Request)) exchange {
	t.Helper()
	return fetchBody(t, url, `{"messages":[{"role":"user","content":"hi"}]}`, req)
}

func fetchBody(t *testing.T, url, body string, req func(*http.Request)) exchange {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if req != nil {
		req(r)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(r)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	return exchange{resp.StatusCode, h, got, resp.Trailer, resp.Proto}
}

func TestClientSeesNoDifference(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "answer.txt")
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB, past the capture cap
	if err := os.WriteFile(file, big, 0o600); err != nil {
		t.Fatal(err)
	}
	modTime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"choices":[{"message":{"role":"assistant","content":"compressed"}}]}`))
	zw.Close()

	tests := []struct {
		name    string
		handler http.HandlerFunc
		req     func(*http.Request)
	}{
		{"plain write with status and headers", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Custom", "yes")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"choices":[{"message":{"role":"assistant","content":"hello"}}]}`))
		}, nil},
		{"implicit 200", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("plain text answer"))
		}, nil},
		{"WriteString", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "written as a string")
		}, nil},
		{"io.Copy through ReadFrom", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, io.LimitReader(bytes.NewReader(big), int64(len(big))))
		}, nil},
		{"io.Copy from a file (sendfile)", func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(file)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			w.Header().Set("Content-Type", "text/plain")
			io.Copy(w, f)
		}, nil},
		{"ServeContent", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "answer.txt", modTime, bytes.NewReader(big))
		}, nil},
		{"ServeContent with a range", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "answer.txt", modTime, bytes.NewReader(big))
		}, func(r *http.Request) { r.Header.Set("Range", "bytes=10-99") }},
		{"ServeContent not modified", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "answer.txt", modTime, bytes.NewReader(big))
		}, func(r *http.Request) {
			r.Header.Set("If-Modified-Since", modTime.Add(time.Hour).Format(http.TimeFormat))
		}},
		{"trailers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Checksum")
			w.Write([]byte("body before trailer"))
			w.Header().Set("X-Checksum", "abc123")
		}, nil},
		{"no content", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, nil},
		{"http.Error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad input", http.StatusBadRequest)
		}, nil},
		{"flushes between writes", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				io.WriteString(w, "data: part "+string(rune('a'+i))+"\n\n")
				w.(http.Flusher).Flush()
			}
		}, nil},
		{"gzip body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
		}, nil},
		{"body never read", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ignored the request"))
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, &recorder{})
			rt := mustRoute(t, g, "r", WithSampleRate(1))
			bare := httptest.NewServer(tc.handler)
			defer bare.Close()
			wrapped := httptest.NewServer(rt.Wrap(tc.handler))
			defer wrapped.Close()

			want := fetch(t, bare.URL, tc.req)
			got := fetch(t, wrapped.URL, tc.req)
			if got.status != want.status {
				t.Errorf("status = %d, want %d", got.status, want.status)
			}
			if !equalHeader(got.header, want.header) {
				t.Errorf("header = %v, want %v", got.header, want.header)
			}
			if !bytes.Equal(got.body, want.body) {
				t.Errorf("body differs: %d bytes, want %d", len(got.body), len(want.body))
			}
			if !equalHeader(got.trailer, want.trailer) {
				t.Errorf("trailer = %v, want %v", got.trailer, want.trailer)
			}
			closeGuard(t, g)
			s := g.Stats()
			if s.Sampled != 1 {
				t.Errorf("sampled = %d, want 1", s.Sampled)
			}
			checkAccounting(t, s)
		})
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func TestCaptureFeedsTheChecker(t *testing.T) {
	rec := &recorder{}
	g := newGuard(t, rec)
	rt := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"),
		WithCustomerID(func(r *http.Request) string { return r.Header.Get("X-Customer") }))
	srv := httptest.NewServer(rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"the answer is UNSAFE"}}]}`)
	})))
	defer srv.Close()
	fetchBody(t, srv.URL, `{"messages":[{"role":"user","content":"what is the answer?"}]}`, func(r *http.Request) {
		r.Header.Set("X-Customer", "cust_42")
		r.Header.Set("X-Request-ID", "req-1")
	})
	closeGuard(t, g)
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("checker got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.TestType != "toxicity" || got.CustomerID != "cust_42" ||
		!strings.Contains(got.Prompt, "what is the answer?") || got.Response != "the answer is UNSAFE" {
		t.Errorf("checker got %+v", got)
	}
	if s := g.Stats(); s.Checked != 1 {
		t.Errorf("checked = %d, want 1 (%+v)", s.Checked, s)
	}
}

func TestFlushTimingPreserved(t *testing.T) {
	g := newGuard(t, &recorder{})
	rt := mustRoute(t, g, "stream", WithSampleRate(1))
	got := make(chan string)
	srv := httptest.NewServer(rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			io.WriteString(w, "data: event "+string(rune('0'+i))+"\n\n")
			w.(http.Flusher).Flush()
			// The next event is written only once the client has seen this one:
			// if the middleware held bytes back, this would never return.
			select {
			case <-got:
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				io.WriteString(w, "data: client never saw the event\n\n")
				return
			}
		}
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		want := "data: event " + string(rune('0'+i)) + "\n"
		if line != want {
			t.Fatalf("line %d = %q, want %q", i, line, want)
		}
		br.ReadString('\n')
		got <- line
	}
}

func TestHijackWorks(t *testing.T) {
	g := newGuard(t, &recorder{})
	rt := mustRoute(t, g, "ws", WithSampleRate(1))
	srv := httptest.NewServer(rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hijacked" {
		t.Errorf("body = %q", body)
	}
	closeGuard(t, g)
	s := g.Stats()
	if s.Dropped[drop.EmptyResponse] != 1 {
		t.Errorf("a hijacked exchange has no captured response and must be counted as empty: %+v", s.Dropped)
	}
	checkAccounting(t, s)
}

func TestResponseControllerReachesTheConnection(t *testing.T) {
	g := newGuard(t, &recorder{})
	rt := mustRoute(t, g, "rc", WithSampleRate(1))
	srv := httptest.NewServer(rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		io.WriteString(w, "ok")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
	})))
	defer srv.Close()
	if got := fetch(t, srv.URL, nil); string(got.body) != "ok" {
		t.Errorf("body = %q", got.body)
	}
}

// plainWriter implements http.ResponseWriter and nothing else.
type plainWriter struct{ h http.Header }

func (p *plainWriter) Header() http.Header         { return p.h }
func (p *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *plainWriter) WriteHeader(int)             {}

func TestOptionalInterfacesSurviveWrapping(t *testing.T) {
	g := newGuard(t, &recorder{})
	rt := mustRoute(t, g, "r", WithSampleRate(1))
	check := func(name string, w http.ResponseWriter) {
		var seen http.ResponseWriter
		rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = w })).
			ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		_, fw := w.(http.Flusher)
		_, fs := seen.(http.Flusher)
		_, hw := w.(http.Hijacker)
		_, hs := seen.(http.Hijacker)
		_, rw := w.(io.ReaderFrom)
		_, rs := seen.(io.ReaderFrom)
		if fw != fs || hw != hs || rw != rs {
			t.Errorf("%s: Flusher %v→%v, Hijacker %v→%v, ReaderFrom %v→%v", name, fw, fs, hw, hs, rw, rs)
		}
		if u, ok := seen.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != w {
			t.Errorf("%s: Unwrap does not return the original writer", name)
		}
	}
	check("recorder", httptest.NewRecorder())
	check("plain", &plainWriter{h: http.Header{}})
}

func TestHandlerPanicReachesTheServer(t *testing.T) {
	g := newGuard(t, &recorder{})
	rt := mustRoute(t, g, "r", WithSampleRate(1))
	boom := errors.New("boom")
	h := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "half an answer")
		panic(boom)
	}))
	func() {
		defer func() {
			if r := recover(); r != boom {
				t.Errorf("recovered %v, want the handler's own panic value", r)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader("x")))
	}()

	// Through a real server, http.ErrAbortHandler aborts the response exactly
	// as it does without the middleware.
	abort := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	for _, srvHandler := range []http.Handler{abort, rt.Wrap(abort)} {
		srv := httptest.NewServer(srvHandler)
		resp, err := http.Get(srv.URL)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Error("client saw a complete response after the handler aborted")
		}
		srv.Close()
	}
	closeGuard(t, g)
	s := g.Stats()
	if s.Dropped[drop.HandlerPanic] != 2 {
		t.Errorf("handler panics dropped = %d, want 2", s.Dropped[drop.HandlerPanic])
	}
	checkAccounting(t, s)
}

func TestUnconfiguredRoutesAreNeverSampled(t *testing.T) {
	rec := &recorder{}
	g := newGuard(t, rec)
	rt := mustRoute(t, g, "chat", WithSampleRate(1))
	mux := http.NewServeMux()
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		io.WriteString(w, "an answer")
	})
	mux.Handle("/chat", rt.Wrap(answer))
	mux.Handle("/other", answer)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for range 5 {
		fetch(t, srv.URL+"/other", nil)
	}
	fetch(t, srv.URL+"/chat", nil)
	closeGuard(t, g)
	if n := len(rec.requests()); n != len(DefaultTestTypes()) {
		t.Errorf("checker calls = %d, want %d (one sample × default test types)", n, len(DefaultTestTypes()))
	}
}
