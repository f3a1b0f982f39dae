package safecheck

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanID(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"clean", "cust_789", "cust_789"},
		{"clean non-ASCII", "kunde-müller-🙂", "kunde-müller-🙂"},
		{"valid U+FFFD kept", "a\uFFFDb", "a\uFFFDb"},
		{"newline", "a\nb", "a_b"},
		{"CR LF and tab", "a\r\n\tb", "a___b"},
		{"NUL and DEL", "\x00a\x7f", "_a_"},
		{"C1 control", "a\u0085b", "a_b"},
		{"invalid byte", "a\xffb", "a_b"},
		{"truncated sequence", "a\xe2\x82", "a__"},
		{"exactly at the cap", strings.Repeat("x", maxIDLen), strings.Repeat("x", maxIDLen)},
		{"over the cap", strings.Repeat("x", maxIDLen+1), strings.Repeat("x", maxIDLen)},
		{"cut before a rune that does not fit", strings.Repeat("x", maxIDLen-1) + "é", strings.Repeat("x", maxIDLen-1)},
		{"4-byte rune at the end of the cap", strings.Repeat("x", maxIDLen-4) + "🙂🙂", strings.Repeat("x", maxIDLen-4) + "🙂"},
		{"dirty and long", "c\nu\xff" + strings.Repeat("y", 10000), "c_u_" + strings.Repeat("y", maxIDLen-4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanID(tt.in); got != tt.want {
				t.Errorf("cleanID(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestCleanIDAllocations checks that an id that is already clean costs no
// allocation.
func TestCleanIDAllocations(t *testing.T) {
	for _, id := range []string{"", "cust_789", "2f1c6a0e-3b9d-4c1e-9a57-6d1f0b2c8e44", "kunde-müller-🙂", strings.Repeat("x", maxIDLen)} {
		if n := testing.AllocsPerRun(100, func() { _ = cleanID(id) }); n != 0 {
			t.Errorf("cleanID(%q): %v allocs, want 0", id, n)
		}
	}
}

// FuzzCleanID checks cleanID's promises on any input: valid UTF-8, no
// control characters, at most maxIDLen bytes, clean ids unchanged, and
// cleaning twice changes nothing more.
func FuzzCleanID(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		out := cleanID(in)
		if !utf8.ValidString(out) {
			t.Fatalf("cleanID(%q) = %q is not valid UTF-8", in, out)
		}
		if strings.ContainsFunc(out, unicode.IsControl) {
			t.Fatalf("cleanID(%q) = %q holds a control character", in, out)
		}
		if len(out) > maxIDLen {
			t.Fatalf("cleanID(%q) is %d bytes long", in, len(out))
		}
		if again := cleanID(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if len(in) <= maxIDLen && utf8.ValidString(in) && !strings.ContainsFunc(in, unicode.IsControl) && out != in {
			t.Fatalf("cleanID changed the clean id %q to %q", in, out)
		}
	})
}

// TestIDsInRecordsAreCappedAndClean sends ids of 10 000 bytes holding a
// newline and an invalid byte through every way an id reaches a Guard and
// checks what the verdict record, the hook and the checker get.
func TestIDsInRecordsAreCappedAndClean(t *testing.T) {
	long := "cust\n\xff" + strings.Repeat("x", 10000-6)
	want := "cust__" + strings.Repeat("x", maxIDLen-6)
	tests := []struct {
		name      string
		opts      []RouteOption
		header    string           // X-Request-ID
		set       func(c *Capture) // called between Begin and Finish
		wantReqID string           // "" means any id but long
		wantCust  string           // customer_id in the record
	}{
		{"WithCustomerID", []RouteOption{WithCustomerID(func(*http.Request) string { return long })}, "", nil, "", want},
		{"WithRequestID", []RouteOption{WithRequestID(func(*http.Request) string { return long })}, "", nil, want, ""},
		{"X-Request-ID header", nil, long, nil, want, ""},
		{"Capture.SetCustomerID and SetRequestID", nil, "", func(c *Capture) {
			c.SetCustomerID(long)
			c.SetRequestID(long)
		}, want, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := &syncBuffer{}
			rec := &recorder{}
			var hooked []Outcome
			g := newGuard(t, rec, WithLogger(jsonLogger(buf)), WithOnVerdict(func(o Outcome) { hooked = append(hooked, o) }))
			rt := mustRoute(t, g, "chat", append([]RouteOption{WithSampleRate(1), WithTestTypes("toxicity")}, tt.opts...)...)
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello"))
			if tt.header != "" {
				r.Header[requestIDHeader] = []string{tt.header}
			}
			if tt.set == nil {
				rt.Wrap(answer("fine")).ServeHTTP(httptest.NewRecorder(), r)
			} else {
				c := rt.Begin(r)
				if c == nil {
					t.Fatal("Begin did not sample")
				}
				tt.set(c)
				io.ReadAll(c.WrapRequestBody(r.Body)) // the prompt
				c.WriteString("fine")
				c.Finish()
			}
			closeGuard(t, g)

			var verdict map[string]any
			for _, line := range strings.Split(buf.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "safecheck verdict" {
					verdict = m
				}
			}
			if verdict == nil {
				t.Fatalf("no verdict record:\n%.2000s", buf.String())
			}
			reqID, _ := verdict["request_id"].(string)
			cust, _ := verdict["customer_id"].(string)
			if tt.wantReqID != "" && reqID != tt.wantReqID || reqID == "" || len(reqID) > maxIDLen {
				t.Errorf("request_id = %.200q (%d bytes), want %.200q", reqID, len(reqID), tt.wantReqID)
			}
			if cust != tt.wantCust {
				t.Errorf("customer_id = %.200q (%d bytes), want %.200q", cust, len(cust), tt.wantCust)
			}
			if len(hooked) != 1 {
				t.Fatalf("hook got %d outcomes, want 1", len(hooked))
			}
			if o := hooked[0]; o.CustomerID != tt.wantCust || o.RequestID != reqID {
				t.Errorf("hook got ids %.200q, %.200q; want the record's %.200q, %.200q", o.RequestID, o.CustomerID, reqID, tt.wantCust)
			}
			if reqs := rec.requests(); len(reqs) != 1 || reqs[0].CustomerID != tt.wantCust {
				t.Errorf("the checker got %d requests, want one for customer %.40q", len(reqs), tt.wantCust)
			}
		})
	}
}

// TestCheckCleansTheCustomerID checks that Guard.Check caps and cleans the
// customer id it is given, for the checker and in its outcome.
func TestCheckCleansTheCustomerID(t *testing.T) {
	rec := &recorder{}
	g := newGuard(t, rec)
	o := g.Check(context.Background(), CheckRequest{TestType: "toxicity", Prompt: "p", Response: "r",
		CustomerID: "cust\n\xff" + strings.Repeat("x", 10000-6)})
	want := "cust__" + strings.Repeat("x", maxIDLen-6)
	if o.Err != nil || o.CustomerID != want {
		t.Errorf("outcome customer id = %.200q, err %v; want %q", o.CustomerID, o.Err, want)
	}
	if reqs := rec.requests(); len(reqs) != 1 || reqs[0].CustomerID != want {
		t.Errorf("the checker got %d requests, want one for customer %q", len(reqs), want)
	}
}
