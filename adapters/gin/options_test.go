package safecheckgin

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
)

func TestMiddlewareValidation(t *testing.T) {
	route := WithRoute("POST", "/v1/chat", safecheck.WithSampleRate(0.5))
	cases := []struct {
		name    string
		opts    []Option
		wantErr []string // substrings of the error; none means success
	}{
		{name: "one route", opts: []Option{route}},
		{name: "default route only", opts: []Option{WithDefaultRoute("all")}},
		{name: "every option", opts: []Option{route, WithRoute("GET", "/v1/chat"), WithDefaultRoute("rest"),
			WithCustomerIDFromHeader("X-Customer"), WithRequestID(func(*gin.Context) string { return "" })}},
		{name: "no routes", opts: []Option{WithCustomerIDFromHeader("X-Customer")}, wantErr: []string{"no routes"}},
		{name: "lower-case method", opts: []Option{WithRoute("post", "/v1/chat")}, wantErr: []string{`method "post"`}},
		{name: "empty method", opts: []Option{WithRoute("", "/v1/chat")}, wantErr: []string{`method ""`}},
		{name: "path without slash", opts: []Option{WithRoute("GET", "v1/chat")}, wantErr: []string{`"GET v1/chat"`, "starting with /"}},
		{name: "gin parameters", opts: []Option{WithRoute("POST", "/v1/chat/:id/messages/*rest"), WithRoute("GET", "/files/report-:day")}},
		{name: "net/http parameter", opts: []Option{WithRoute("POST", "/v1/chat/{id}")},
			wantErr: []string{`WithRoute "POST /v1/chat/{id}": not gin syntax: write "/v1/chat/:id"`}},
		{name: "net/http rest of the path", opts: []Option{WithRoute("GET", "/files/{id}/{path...}")},
			wantErr: []string{`write "/files/:id/*path"`}},
		{name: "gorilla pattern", opts: []Option{WithRoute("GET", "/users/{id:[0-9]+}")}, wantErr: []string{`write "/users/:id"`}},
		{name: "flask converter", opts: []Option{WithRoute("GET", "/users/<int:id>/posts/<slug>")},
			wantErr: []string{`write "/users/:id/posts/:slug"`}},
		{name: "empty braces", opts: []Option{WithRoute("GET", "/users/{}")}, wantErr: []string{"not gin syntax", "without braces"}},
		{name: "parameter without a name", opts: []Option{WithRoute("GET", "/users/:/posts")}, wantErr: []string{`parameter ":" has no name`}},
		{name: "catch-all without a name", opts: []Option{WithRoute("GET", "/files/*")}, wantErr: []string{`parameter "*" has no name`}},
		{name: "two parameters in a segment", opts: []Option{WithRoute("GET", "/users/:id:name")}, wantErr: []string{"more than one parameter"}},
		{name: "catch-all in the middle", opts: []Option{WithRoute("GET", "/files/*path/raw")}, wantErr: []string{`catch-all "*path" must be a whole segment at the end`}},
		{name: "catch-all inside a segment", opts: []Option{WithRoute("GET", "/files/x*path")}, wantErr: []string{"must be a whole segment"}},
		{name: "query string", opts: []Option{WithRoute("GET", "/search?q=:q")}, wantErr: []string{"no query or fragment"}},
		{name: "space", opts: []Option{WithRoute("GET", "/v1/chat ")}, wantErr: []string{"white space or a control character at byte 8"}},
		{name: "route twice", opts: []Option{route, WithRoute("POST", "/v1/chat")}, wantErr: []string{`"POST /v1/chat" given twice`}},
		{name: "two customer options",
			opts:    []Option{route, WithCustomerIDFromHeader("X-Customer"), WithCustomerIDFromContextKey("customer")},
			wantErr: []string{"more than one customer id option (WithCustomerIDFromHeader, WithCustomerIDFromContextKey)"}},
		{name: "empty context key", opts: []Option{route, WithCustomerIDFromContextKey("")}, wantErr: []string{"empty key"}},
		{name: "bad header name", opts: []Option{route, WithCustomerIDFromHeader("X Customer")},
			wantErr: []string{`"X Customer" is not a valid header name`}},
		{name: "nil customer function", opts: []Option{route, WithCustomerID(nil)}, wantErr: []string{"WithCustomerID: nil function"}},
		{name: "nil request id function", opts: []Option{route, WithRequestID(nil)}, wantErr: []string{"WithRequestID: nil function"}},
		{name: "nil option", opts: []Option{route, nil}, wantErr: []string{"safecheckgin: option 2 is nil"}},
		{name: "nil first option", opts: []Option{nil, route}, wantErr: []string{"safecheckgin: option 1 is nil"}},
		{name: "default route twice", opts: []Option{WithDefaultRoute("a"), WithDefaultRoute("b")},
			wantErr: []string{"WithDefaultRoute given 2 times"}},
		{name: "default route without a name", opts: []Option{WithDefaultRoute("")}, wantErr: []string{"empty route name"}},
		{name: "all errors at once", opts: []Option{WithRoute("get", "x"), WithCustomerIDFromContextKey("")},
			wantErr: []string{`method "get"`, "empty key"}},
		{name: "invalid route option", opts: []Option{WithRoute("POST", "/v1/chat", safecheck.WithSampleRate(2))},
			wantErr: []string{`"POST /v1/chat"`, "sample rate must be within [0, 1]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, &recorder{})
			mw, err := Middleware(g, tc.opts...)
			if len(tc.wantErr) == 0 {
				if err != nil || mw == nil {
					t.Fatalf("Middleware: %v", err)
				}
				return
			}
			if err == nil || mw != nil {
				t.Fatalf("Middleware succeeded, want an error with %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if !strings.HasPrefix(err.Error(), "safecheckgin: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestMiddlewareNilGuard(t *testing.T) {
	if _, err := Middleware(nil, WithDefaultRoute("all")); err == nil || !strings.Contains(err.Error(), "guard is nil") {
		t.Errorf("Middleware(nil): %v", err)
	}
	if _, err := Route(nil, "all"); err == nil {
		t.Error("Route(nil) succeeded")
	}
}

// TestRouteRegistration checks how table entries meet routes the Guard
// already has: reused when WithRoute has no options, an error otherwise.
func TestRouteRegistration(t *testing.T) {
	g := newGuard(t, &recorder{})
	if _, err := g.Route("POST /v1/chat", safecheck.WithSampleRate(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := Middleware(g, WithRoute("POST", "/v1/chat")); err != nil {
		t.Errorf("reusing a registered route: %v", err)
	}
	if rs, _ := routeStats(g.Stats(), "POST /v1/chat"); rs.SampleRate != 1 {
		t.Errorf("reused route's rate %v, want the registered 1", rs.SampleRate)
	}
	_, err := Middleware(g, WithRoute("POST", "/v1/chat", safecheck.WithSampleRate(0.5)))
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("registering a route twice with options: %v", err)
	}
	if _, err := Route(g, "group", safecheck.WithSampleRate(0.3)); err != nil {
		t.Fatal(err)
	}
	if rs, _ := routeStats(g.Stats(), "group"); rs.SampleRate != 0.3 {
		t.Errorf("Route's rate %v, want 0.3", rs.SampleRate)
	}
	if _, err := Route(g, ""); err == nil {
		t.Error("Route with an empty name succeeded")
	}
}
