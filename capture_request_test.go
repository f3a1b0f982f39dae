package safecheck

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"

	"github.com/safecheck/safecheck/internal/benchrig"
)

// TestCaptureSizedByContentLength reads bodies in 512-byte pieces: with a
// known length the capture fills one buffer of that size (at most the
// route's cap) instead of doubling its way there, and a length that is
// wrong or unknown still captures what was read, inbound and outbound.
func TestCaptureSizedByContentLength(t *testing.T) {
	const capBytes = 32 << 10
	cases := []struct {
		name          string
		size          int
		contentLength int64
		wantCap       int // 0: any
	}{
		{"known", 24 << 10, 24 << 10, 24 << 10},
		{"past_the_cap", 40 << 10, 40 << 10, capBytes},
		{"unknown", 24 << 10, -1, 0},
		{"too_small", 24 << 10, 100, 0},
		{"too_large", 100, 24 << 10, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := benchrig.Text(tc.size)
			want := data[:min(len(data), capBytes)]
			type body struct {
				b   []byte
				cap int
			}
			var got [][]body // per finished sample: its request, then its response
			g := benchGuard(t, instant)
			g.deliver = func(c *Capture) {
				got = append(got, []body{{bytes.Clone(c.req), cap(c.req)}, {bytes.Clone(c.resp), cap(c.resp)}})
				g.release(c)
			}
			rt := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity"), WithMaxCaptureBytes(capBytes))

			// Inbound: the handler reads the request in pieces.
			h := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, iotest.HalfReader(io.LimitReader(r.Body, 1<<20)))
				w.Write([]byte("ok"))
			}))
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(data))
			r.ContentLength = tc.contentLength
			h.ServeHTTP(httptest.NewRecorder(), r)

			// Outbound: the base reads the request, the caller the answer,
			// in pieces; the answer has the same Content-Length.
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				io.Copy(io.Discard, iotest.HalfReader(req.Body))
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: req,
					ContentLength: tc.contentLength, Body: io.NopCloser(bytes.NewReader(data))}, nil
			})
			req, _ := http.NewRequest(http.MethodPost, "http://llm.test/", bytes.NewReader(data))
			req.ContentLength = tc.contentLength
			resp, err := rt.Transport(base).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, iotest.HalfReader(resp.Body))
			resp.Body.Close()

			if len(got) != 2 {
				t.Fatalf("%d samples finished, want 2", len(got))
			}
			got[0] = got[0][:1] // the inbound response is not read in pieces
			for i, sample := range got {
				for j, b := range sample {
					if !bytes.Equal(b.b, want) {
						t.Errorf("sample %d, body %d: captured %d bytes, want the first %d read", i, j, len(b.b), len(want))
					}
					if tc.wantCap != 0 && b.cap != tc.wantCap {
						t.Errorf("sample %d, body %d: buffer of %d bytes, want %d", i, j, b.cap, tc.wantCap)
					}
				}
			}
		})
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
