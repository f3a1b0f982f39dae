package safecheckgin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/safecheck/safecheck/drop"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
)

// mounts says where an app built by newApp mounts safecheck; nil means
// nowhere (the bare app).
type mounts struct {
	global gin.HandlerFunc // on the engine, after Recovery and deny
	group  gin.HandlerFunc // on the /v2 group
}

type chatRequest struct {
	Prompt string `json:"prompt" binding:"required"`
}

// newApp builds the app the identity tests compare with and without
// safecheck. Every route answers the way a gin app commonly does.
func newApp(m mounts, file string) *gin.Engine {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	deny := func(c *gin.Context) {
		if c.GetHeader("X-Deny") != "" {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "denied"})
		}
	}
	e.Use(gin.RecoveryWithWriter(io.Discard), deny)
	if m.global != nil {
		e.Use(m.global)
	}
	e.GET("/json", func(c *gin.Context) {
		c.Header("X-Custom", "yes")
		c.JSON(http.StatusOK, gin.H{"answer": "hello there", "n": 3})
	})
	e.POST("/chat/:id", func(c *gin.Context) {
		var req chatRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "bad request"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "answer": "you said: " + req.Prompt})
	})
	e.GET("/string", func(c *gin.Context) { c.String(http.StatusCreated, "plain %d", 42) })
	e.GET("/data", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/octet-stream", []byte{0, 1, 2, 0xff, 'a'})
	})
	e.GET("/file", func(c *gin.Context) { c.File(file) })
	e.GET("/stream", func(c *gin.Context) {
		i := 0
		c.Stream(func(w io.Writer) bool {
			fmt.Fprintf(w, "chunk %d\n", i)
			i++
			return i < 3
		})
	})
	e.GET("/sse", func(c *gin.Context) {
		c.SSEvent("message", "one")
		c.SSEvent("message", gin.H{"n": 2})
		c.Writer.Flush()
	})
	e.GET("/denied", func(c *gin.Context) { c.String(http.StatusOK, "never") })
	authLater := func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "who are you"})
	}
	e.GET("/authlater", authLater, func(c *gin.Context) { c.String(http.StatusOK, "never") })
	e.GET("/panic", func(c *gin.Context) { panic("handler exploded") })
	e.GET("/nocontent", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	e.GET("/redirect", func(c *gin.Context) { c.Redirect(http.StatusFound, "/json") })
	e.GET("/observe", observe)
	e.GET("/hijack", func(c *gin.Context) {
		conn, rw, err := c.Writer.Hijack()
		if err != nil {
			c.String(http.StatusInternalServerError, "hijack: %v", err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		rw.Flush()
	})
	v2 := e.Group("/v2")
	if m.group != nil {
		v2.Use(m.group)
	}
	v2.POST("/chat", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		c.String(http.StatusOK, "v2 heard %d bytes: %s", len(b), b)
	})
	return e
}

// observe answers with what the gin.ResponseWriter methods report along the
// way, so that identical bodies mean identical observations.
func observe(c *gin.Context) {
	var obs []string
	see := func(what string) {
		obs = append(obs, fmt.Sprintf("%s: status=%d size=%d written=%v", what,
			c.Writer.Status(), c.Writer.Size(), c.Writer.Written()))
	}
	see("start")
	c.Status(http.StatusAccepted)
	see("status")
	c.Header("Content-Type", "text/plain; charset=utf-8")
	c.Writer.WriteString("ab")
	see("WriteString")
	c.Writer.Write([]byte("cde"))
	see("Write")
	rc := http.NewResponseController(c.Writer)
	obs = append(obs, fmt.Sprintf("SetWriteDeadline: %v", rc.SetWriteDeadline(time.Now().Add(time.Minute))))
	obs = append(obs, fmt.Sprintf("EnableFullDuplex: %v", rc.EnableFullDuplex()))
	c.Writer.Flush()
	see("Flush")
	obs = append(obs, fmt.Sprintf("Pusher nil: %v, CloseNotify nil: %v", c.Writer.Pusher() == nil, c.Writer.CloseNotify() == nil))
	c.Writer.WriteString("\n" + strings.Join(obs, "\n"))
}

var sampledPaths = [][2]string{
	{"GET", "/json"}, {"POST", "/chat/:id"}, {"GET", "/string"}, {"GET", "/data"}, {"GET", "/file"},
	{"GET", "/stream"}, {"GET", "/sse"}, {"GET", "/denied"}, {"GET", "/authlater"}, {"GET", "/panic"},
	{"GET", "/nocontent"}, {"GET", "/redirect"}, {"GET", "/observe"}, {"GET", "/hijack"},
}

// TestResponsesUnchanged sends the same requests to the app with and without
// safecheck (every route sampled) and compares what the client sees.
func TestResponsesUnchanged(t *testing.T) {
	file := filepath.Join(t.TempDir(), "answer.txt")
	if err := os.WriteFile(file, []byte("a file answer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	g := newGuard(t, rec)
	opts := []Option{WithCustomerIDFromHeader("X-Customer")}
	for _, p := range sampledPaths {
		opts = append(opts, WithRoute(p[0], p[1], safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"), askedFor))
	}
	guarded := serve(t, newApp(mounts{
		global: mustMiddleware(t, g, opts...),
		group:  mustRouteMiddleware(t, g, "v2", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity")),
	}, file))
	bare := serve(t, newApp(mounts{}, file))

	type result struct {
		route   string      // the safecheck route, or "" when nothing may be sampled
		dropped drop.Reason // the drop reason the sample must end with, if any
	}
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     result
	}{
		{name: "JSON", method: "GET", path: "/json", want: result{route: "GET /json"}},
		{name: "ShouldBindJSON", method: "POST", path: "/chat/7", body: `{"prompt":"hi there"}`,
			header: map[string]string{"Content-Type": "application/json", "X-Customer": "c1"}, want: result{route: "POST /chat/:id"}},
		{name: "ShouldBindJSON rejects", method: "POST", path: "/chat/8", body: `{"nope":1}`,
			header: map[string]string{"Content-Type": "application/json"}, want: result{route: "POST /chat/:id"}},
		{name: "String", method: "GET", path: "/string", want: result{route: "GET /string"}},
		{name: "Data", method: "GET", path: "/data", want: result{route: "GET /data", dropped: drop.Binary}},
		{name: "File", method: "GET", path: "/file", want: result{route: "GET /file"}},
		{name: "Stream", method: "GET", path: "/stream", want: result{route: "GET /stream"}},
		{name: "SSEvent", method: "GET", path: "/sse", want: result{route: "GET /sse"}},
		{name: "AbortWithStatusJSON before us", method: "GET", path: "/denied",
			header: map[string]string{"X-Deny": "1"}},
		{name: "AbortWithStatusJSON after us", method: "GET", path: "/authlater", want: result{route: "GET /authlater"}},
		{name: "panic recovered by gin.Recovery", method: "GET", path: "/panic",
			want: result{route: "GET /panic", dropped: drop.HandlerPanic}},
		{name: "no content", method: "GET", path: "/nocontent",
			want: result{route: "GET /nocontent", dropped: drop.EmptyResponse}},
		{name: "redirect", method: "GET", path: "/redirect", want: result{route: "GET /redirect"}},
		{name: "writer methods", method: "GET", path: "/observe", want: result{route: "GET /observe"}},
		{name: "hijack", method: "GET", path: "/hijack",
			want: result{route: "GET /hijack", dropped: drop.EmptyResponse}},
		{name: "404", method: "GET", path: "/missing"},
		{name: "405", method: "DELETE", path: "/json"},
		{name: "group with its own rate", method: "POST", path: "/v2/chat", body: "group body",
			header: map[string]string{"Content-Type": "text/plain"}, want: result{route: "v2"}},
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	bareClient, guardedClient := *bare.Client(), *guarded.Client()
	bareClient.CheckRedirect, guardedClient.CheckRedirect = noRedirect, noRedirect
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := g.Stats()
			want := do(t, &bareClient, newRequest(t, tc.method, bare.URL+tc.path, tc.body, tc.header))
			got := do(t, &guardedClient, newRequest(t, tc.method, guarded.URL+tc.path, tc.body, tc.header))
			if got.status != want.status {
				t.Errorf("status %d, without safecheck %d", got.status, want.status)
			}
			if !reflect.DeepEqual(got.header, want.header) {
				t.Errorf("header\n%v\nwithout safecheck\n%v", got.header, want.header)
			}
			if got.body != want.body {
				t.Errorf("body\n%q\nwithout safecheck\n%q", got.body, want.body)
			}
			after := g.Stats()
			var requests, sampled uint64
			for _, r := range after.Routes {
				b, _ := routeStats(before, r.Name)
				requests += r.Requests - b.Requests
				sampled += r.Sampled - b.Sampled
				if r.Name == tc.want.route && (r.Requests-b.Requests != 1 || r.Sampled-b.Sampled != 1) {
					t.Errorf("route %q: %d requests, %d sampled; want 1 and 1",
						r.Name, r.Requests-b.Requests, r.Sampled-b.Sampled)
				}
			}
			if wantN := map[bool]uint64{true: 1}[tc.want.route != ""]; requests != wantN || sampled != wantN {
				t.Errorf("%d requests and %d samples counted over all routes, want %d", requests, sampled, wantN)
			}
		})
	}
	if t.Failed() {
		return
	}

	s := closeGuard(t, g)
	wantDrops := map[drop.Reason]uint64{}
	for _, tc := range cases {
		if tc.want.dropped != 0 {
			wantDrops[tc.want.dropped]++
		}
	}
	for reason, n := range wantDrops {
		if s.Dropped[reason] != n {
			t.Errorf("dropped %q = %d, want %d (all drops %v)", reason, s.Dropped[reason], n, s.Dropped)
		}
	}
	if rs, _ := routeStats(s, "GET /panic"); rs.Dropped[drop.HandlerPanic] != 1 {
		t.Errorf("GET /panic drops %v, want one %s", rs.Dropped, drop.HandlerPanic)
	}
	var heard []string
	for _, r := range rec.requests() {
		heard = append(heard, r.Prompt+" => "+r.Response)
	}
	for _, want := range []string{
		"hi there => you said: hi there\n7", // the request body reached both the handler and the capture
		" => plain 42",
		" => a file answer",
		" => chunk 0\nchunk 1\nchunk 2",
		"group body => v2 heard 10 bytes: group body",
	} {
		if !containsLine(heard, want) {
			t.Errorf("no check of %q; checked %q", want, heard)
		}
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// TestWriterMethods pins what the handler observes through c.Writer on a
// sampled route: the same as TestResponsesUnchanged compares, spelled out.
func TestWriterMethods(t *testing.T) {
	g := newGuard(t, &recorder{})
	srv := serve(t, newApp(mounts{global: mustMiddleware(t, g,
		WithRoute("GET", "/observe", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity")))}, ""))
	got := do(t, srv.Client(), newRequest(t, "GET", srv.URL+"/observe", "", nil))
	want := strings.Join([]string{
		"abcde",
		"start: status=200 size=-1 written=false",
		"status: status=202 size=-1 written=false",
		"WriteString: status=202 size=2 written=true",
		"Write: status=202 size=5 written=true",
		"SetWriteDeadline: <nil>",
		"EnableFullDuplex: <nil>",
		"Flush: status=202 size=5 written=true",
		"Pusher nil: true, CloseNotify nil: false",
	}, "\n")
	if got.status != http.StatusAccepted || got.body != want {
		t.Errorf("got %d\n%s\nwant 202\n%s", got.status, got.body, want)
	}
	if s := closeGuard(t, g); s.Sampled != 1 {
		t.Errorf("sampled %d, want 1", s.Sampled)
	}
}

// TestWriterAndBodyRestored checks that middleware above safecheck gets its
// own c.Writer and request body back, on a normal return and on a panic.
func TestWriterAndBodyRestored(t *testing.T) {
	g := newGuard(t, &recorder{})
	mw := mustMiddleware(t, g, WithDefaultRoute("all", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity")))
	type seen struct{ writer, body bool }
	results := make(chan seen, 2)
	e := gin.New()
	e.Use(gin.RecoveryWithWriter(io.Discard), func(c *gin.Context) {
		w, body := c.Writer, c.Request.Body
		defer func() { results <- seen{writer: c.Writer == w, body: c.Request.Body == body} }()
		c.Next()
	}, mw)
	e.POST("/ok", func(c *gin.Context) {
		io.Copy(io.Discard, c.Request.Body)
		c.String(http.StatusOK, "fine")
	})
	e.POST("/panic", func(c *gin.Context) { panic("boom") })
	srv := serve(t, e)
	for _, path := range []string{"/ok", "/panic"} {
		do(t, srv.Client(), newRequest(t, "POST", srv.URL+path, "some body", nil))
		if s := <-results; !s.writer || !s.body {
			t.Errorf("%s: after the chain, writer restored %v, body restored %v", path, s.writer, s.body)
		}
	}
	s := closeGuard(t, g)
	if s.Sampled != 2 || s.Dropped[drop.HandlerPanic] != 1 {
		t.Errorf("sampled %d, dropped %v; want 2 and one %s", s.Sampled, s.Dropped, drop.HandlerPanic)
	}
}

// TestPanicValuePropagates checks that the panic above safecheck is the
// handler's own value, not a wrapper, and that the sample is not checked.
func TestPanicValuePropagates(t *testing.T) {
	g := newGuard(t, &recorder{})
	mw := mustMiddleware(t, g, WithRoute("GET", "/p", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity")))
	type token struct{ n int }
	recovered := make(chan any, 1)
	e := gin.New()
	e.Use(func(c *gin.Context) {
		defer func() {
			v := recover()
			recovered <- v
			c.AbortWithStatus(http.StatusTeapot)
		}()
		c.Next()
	}, mw)
	e.GET("/p", func(c *gin.Context) {
		c.String(http.StatusOK, "partial ")
		panic(token{7})
	})
	srv := serve(t, e)
	do(t, srv.Client(), newRequest(t, "GET", srv.URL+"/p", "", nil))
	if v := <-recovered; v != (token{7}) {
		t.Errorf("recovered %#v, want the handler's token{7}", v)
	}
	s := closeGuard(t, g)
	if s.Sampled != 1 || s.Dropped[drop.HandlerPanic] != 1 || s.Checked != 0 {
		t.Errorf("sampled %d, checked %d, dropped %v; want 1, 0 and one %s", s.Sampled, s.Checked, s.Dropped, drop.HandlerPanic)
	}
}

// TestStreamFlushTiming proves that flushes reach the client as they happen:
// the handler writes event N+1 only after the client has read event N.
func TestStreamFlushTiming(t *testing.T) {
	const events = 4
	for _, mode := range []string{"Stream", "SSEvent"} {
		for _, guarded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/guarded=%v", mode, guarded), func(t *testing.T) {
				rec := &recorder{}
				g := newGuard(t, rec)
				acks := make(chan int)
				e := gin.New()
				if guarded {
					e.Use(mustMiddleware(t, g, WithRoute("GET", "/events", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"), askedFor)))
				}
				e.GET("/events", func(c *gin.Context) {
					i := 0
					c.Stream(func(w io.Writer) bool {
						if i > 0 {
							select {
							case n := <-acks:
								if n != i-1 {
									t.Errorf("client acknowledged %d before %d", n, i-1)
								}
							case <-c.Request.Context().Done():
								return false
							}
						}
						if mode == "Stream" {
							fmt.Fprintf(w, "event %d\n", i)
						} else {
							c.SSEvent("tick", fmt.Sprintf("tick-%d", i))
						}
						i++
						return i < events
					})
				})
				srv := serve(t, e)
				// The deadline only ends a test that would otherwise hang.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				var body strings.Builder
				for i := range events {
					event, err := readEvent(br, mode)
					if err != nil {
						t.Fatalf("reading event %d: %v", i, err)
					}
					body.WriteString(event)
					if want := fmt.Sprint(i); !strings.Contains(event, want) {
						t.Fatalf("event %d is %q", i, event)
					}
					if i < events-1 {
						acks <- i
					}
				}
				if rest, _ := io.ReadAll(br); len(rest) != 0 {
					t.Errorf("unexpected bytes after the last event: %q", rest)
				}
				wantBody := map[string]string{
					"Stream":  "event 0\nevent 1\nevent 2\nevent 3\n",
					"SSEvent": "event:tick\ndata:tick-0\n\nevent:tick\ndata:tick-1\n\nevent:tick\ndata:tick-2\n\nevent:tick\ndata:tick-3\n\n",
				}[mode]
				if body.String() != wantBody {
					t.Errorf("body %q, want %q", body.String(), wantBody)
				}
				s := closeGuard(t, g)
				if !guarded {
					if s.Sampled != 0 {
						t.Errorf("sampled %d without the middleware", s.Sampled)
					}
					return
				}
				reqs := rec.requests()
				if s.Checked != 1 || len(reqs) != 1 || !strings.Contains(reqs[0].Response, "3") {
					t.Errorf("checked %d, checker saw %q; want one check of the whole stream", s.Checked, reqs)
				}
			})
		}
	}
}

func readEvent(br *bufio.Reader, mode string) (string, error) {
	if mode == "Stream" {
		return br.ReadString('\n')
	}
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\n" {
			return b.String(), err
		}
	}
}

// TestIdentity covers the ways a gin app tells safecheck the customer and the
// request id.
func TestIdentity(t *testing.T) {
	cases := []struct {
		name         string
		opts         []Option
		header       map[string]string
		ctxValue     any // set under "customer" by a middleware mounted after safecheck
		wantCustomer string
		wantRequest  string
	}{
		{name: "context key set by a later middleware", opts: []Option{WithCustomerIDFromContextKey("customer")},
			ctxValue: "cust-ctx", header: map[string]string{"X-Request-ID": "rid-1"},
			wantCustomer: "cust-ctx", wantRequest: "rid-1"},
		{name: "context key holding a non-string", opts: []Option{WithCustomerIDFromContextKey("customer")},
			ctxValue: 42, header: map[string]string{"X-Request-ID": "rid-2"}, wantRequest: "rid-2"},
		{name: "header", opts: []Option{WithCustomerIDFromHeader("x-customer")},
			header:       map[string]string{"X-Customer": "cust-hdr", "X-Request-ID": "rid-3"},
			wantCustomer: "cust-hdr", wantRequest: "rid-3"},
		{name: "function", opts: []Option{WithCustomerID(func(c *gin.Context) string { return "tenant-" + c.Param("tenant") })},
			header: map[string]string{"X-Request-ID": "rid-4"}, wantCustomer: "tenant-t1", wantRequest: "rid-4"},
		{name: "request id function", opts: []Option{WithRequestID(func(c *gin.Context) string { return c.GetHeader("X-Trace") })},
			header: map[string]string{"X-Trace": "trace-9", "X-Request-ID": "ignored"}, wantRequest: "trace-9"},
		{name: "request id function without an answer keeps the header",
			opts:   []Option{WithRequestID(func(c *gin.Context) string { return "" })},
			header: map[string]string{"X-Request-ID": "rid-6"}, wantRequest: "rid-6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcomes := make(chan safecheck.Outcome, 4)
			g := newGuard(t, &recorder{}, safecheck.WithOnVerdict(func(o safecheck.Outcome) { outcomes <- o }))
			opts := append([]Option{WithRoute("POST", "/t/:tenant/chat", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"), askedFor)}, tc.opts...)
			e := gin.New()
			e.Use(mustMiddleware(t, g, opts...))
			auth := e.Group("/t", func(c *gin.Context) {
				if tc.ctxValue != nil {
					c.Set("customer", tc.ctxValue)
				}
			})
			auth.POST("/:tenant/chat", func(c *gin.Context) { c.String(http.StatusOK, "an answer") })
			srv := serve(t, e)
			do(t, srv.Client(), newRequest(t, "POST", srv.URL+"/t/t1/chat", "a question", tc.header))
			closeGuard(t, g)
			select {
			case o := <-outcomes:
				if o.CustomerID != tc.wantCustomer || o.RequestID != tc.wantRequest || o.Route != "POST /t/:tenant/chat" {
					t.Errorf("outcome route %q customer %q request %q; want %q, %q, %q", o.Route, o.CustomerID, o.RequestID,
						"POST /t/:tenant/chat", tc.wantCustomer, tc.wantRequest)
				}
			default:
				t.Fatal("no verdict")
			}
		})
	}
}

// TestCaptureCapLeavesHandlerAlone sends a body far over the capture cap: the
// handler reads all of it, the sample is marked partial.
func TestCaptureCapLeavesHandlerAlone(t *testing.T) {
	outcomes := make(chan safecheck.Outcome, 1)
	g := newGuard(t, &recorder{}, safecheck.WithOnVerdict(func(o safecheck.Outcome) { outcomes <- o }))
	e := gin.New()
	e.Use(mustMiddleware(t, g, WithRoute("POST", "/big",
		safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"), safecheck.WithMaxCaptureBytes(64))))
	e.POST("/big", func(c *gin.Context) {
		b, _ := io.ReadAll(c.Request.Body)
		c.String(http.StatusOK, "%d bytes, last %q", len(b), b[len(b)-1:])
	})
	srv := serve(t, e)
	big := strings.Repeat("x", 100_000) + "!"
	got := do(t, srv.Client(), newRequest(t, "POST", srv.URL+"/big", big, map[string]string{"Content-Type": "text/plain"}))
	if want := `100001 bytes, last "!"`; got.body != want {
		t.Errorf("body %q, want %q", got.body, want)
	}
	closeGuard(t, g)
	if o := <-outcomes; !o.Partial {
		t.Errorf("outcome not marked partial: %+v", o)
	}
}

// TestCanaryNeverLogged plants canary strings in prompts and responses and
// looks for them in every log record and in Stats.
func TestCanaryNeverLogged(t *testing.T) {
	const (
		promptCanary   = "CANARY-PROMPT-5f0c2a"
		responseCanary = "CANARY-RESPONSE-91be7d"
	)
	var logs syncBuffer
	rec := &recorder{}
	g := newGuard(t, rec, safecheck.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	e := gin.New()
	e.Use(mustMiddleware(t, g,
		WithRoute("POST", "/chat/:id", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity", "pii")),
		WithCustomerIDFromContextKey("customer")))
	e.POST("/chat/:id", func(c *gin.Context) { c.Set("customer", "cust-canary") }, func(c *gin.Context) {
		var req chatRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		answer := "safe answer " + responseCanary
		if strings.Contains(req.Prompt, "unsafe") {
			answer = "UNSAFE answer " + responseCanary
		}
		c.JSON(http.StatusOK, gin.H{"answer": answer})
	})
	srv := serve(t, e)
	for i, prompt := range []string{"hello " + promptCanary, "be unsafe " + promptCanary} {
		got := do(t, srv.Client(), newRequest(t, "POST", fmt.Sprintf("%s/chat/%d", srv.URL, i),
			`{"prompt":"`+prompt+`"}`, map[string]string{"Content-Type": "application/json", "X-Request-ID": fmt.Sprint("req-", i)}))
		if got.status != http.StatusOK {
			t.Fatalf("status %d", got.status)
		}
	}
	s := closeGuard(t, g)
	// The canaries did reach the checker, so their absence below means something.
	saw := 0
	for _, r := range rec.requests() {
		if strings.Contains(r.Prompt, promptCanary) && strings.Contains(r.Response, responseCanary) {
			saw++
		}
	}
	if saw != 4 {
		t.Fatalf("checker saw the canaries in %d of 4 checks: %+v", saw, rec.requests())
	}
	out := logs.String()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
	if !strings.Contains(out, `"safecheck verdict: flagged"`) || !strings.Contains(out, `"request_id":"req-1"`) {
		t.Errorf("missing the flagged verdict record:\n%s", out)
	}
	stats := fmt.Sprintf("%+v", s)
	for _, canary := range []string{promptCanary, responseCanary} {
		if strings.Contains(out, canary) {
			t.Errorf("log output contains %s:\n%s", canary, out)
		}
		if strings.Contains(stats, canary) {
			t.Errorf("Stats contain %s: %s", canary, stats)
		}
	}
}

// TestPerRouteRates checks that each route of the table, and a group with
// Route, samples at its own rate, that routes missing from the table are not
// counted at all, and that incidents and runtime rate changes apply by route
// name.
func TestPerRouteRates(t *testing.T) {
	const n = 25
	g := newGuard(t, &recorder{}, safecheck.WithCache(0, 1))
	tt := safecheck.WithTestTypes("toxicity")
	e := gin.New()
	e.Use(mustMiddleware(t, g,
		WithRoute("POST", "/always/:id", safecheck.WithSampleRate(1), tt),
		WithRoute("POST", "/never", safecheck.WithSampleRate(0), tt),
		WithRoute("GET", "/never", safecheck.WithSampleRate(1), tt), // same path, other method
	))
	ok := func(c *gin.Context) {
		io.ReadAll(c.Request.Body)
		c.String(http.StatusOK, "ok")
	}
	e.POST("/always/:id", ok)
	e.POST("/never", ok)
	e.GET("/never", ok)
	e.POST("/untracked", ok)
	e.Group("/group", mustRouteMiddleware(t, g, "group", safecheck.WithSampleRate(0), tt)).POST("/x", ok)
	srv := serve(t, e)

	paths := []string{"/always/1", "/never", "/untracked", "/group/x"}
	round := func() {
		t.Helper()
		for i := range n {
			for _, p := range paths {
				if got := do(t, srv.Client(), newRequest(t, "POST", srv.URL+p, fmt.Sprint("q", i), nil)); got.body != "ok" {
					t.Fatalf("POST %s: %d %q", p, got.status, got.body)
				}
			}
		}
	}
	type counts struct{ requests, sampled uint64 }
	check := func(step string, want map[string]counts) {
		t.Helper()
		s := g.Stats()
		if len(s.Routes) != len(want) {
			t.Errorf("%s: routes %+v, want %d", step, s.Routes, len(want))
		}
		for name, w := range want {
			rs, _ := routeStats(s, name)
			if got := (counts{rs.Requests, rs.Sampled}); got != w {
				t.Errorf("%s: route %q requests/sampled %v, want %v", step, name, got, w)
			}
		}
	}

	round()
	check("configured rates", map[string]counts{
		"POST /always/:id": {n, n}, "POST /never": {n, 0}, "GET /never": {0, 0}, "group": {n, 0},
	})

	if err := g.StartIncident(context.Background(), "test incident", time.Hour, "POST /never", "group"); err != nil {
		t.Fatal(err)
	}
	round()
	check("incident", map[string]counts{
		"POST /always/:id": {2 * n, 2 * n}, "POST /never": {2 * n, n}, "GET /never": {0, 0}, "group": {2 * n, n},
	})

	if err := g.EndIncident(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.SetSampleRate(context.Background(), "POST /always/:id", 0); err != nil {
		t.Fatal(err)
	}
	round()
	check("after the incident, rate changed", map[string]counts{
		"POST /always/:id": {3 * n, 2 * n}, "POST /never": {3 * n, n}, "GET /never": {0, 0}, "group": {3 * n, n},
	})
	if s := closeGuard(t, g); s.Checked+s.CacheHits != 4*n {
		t.Errorf("checked %d + cache hits %d, want %d", s.Checked, s.CacheHits, 4*n)
	}
}
