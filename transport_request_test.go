package safecheck

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/safecheck/safecheck/internal/benchrig"
)

// replayTransport answers every call with the same 200 response, rewound,
// after reading the request body to its end, without allocating: what a
// benchmark or an allocation count around it sees is the wrapper's.
type replayTransport struct {
	resp   http.Response
	header http.Header
	body   benchrig.Body
	data   []byte
}

func newReplayTransport(data []byte) *replayTransport {
	return &replayTransport{data: data, header: http.Header{"Content-Type": {"application/json"}}}
}

func (f *replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
	}
	f.body.Reset(f.data)
	f.resp = http.Response{StatusCode: http.StatusOK, Header: f.header, Body: &f.body,
		ContentLength: int64(len(f.data)), Request: req}
	return &f.resp, nil
}

// transportPath is one sampled outbound call through a route whose
// finished captures are released at once: the request path alone.
type transportPath struct {
	tr   http.RoundTripper
	req  *http.Request
	body *benchrig.Body
	data []byte
}

func newTransportPath(tb testing.TB, size int, rewindable bool) *transportPath {
	g := benchGuard(tb, instant)
	g.deliver = g.release
	rt := mustRoute(tb, g, "path", WithSampleRate(1), WithTestTypes("toxicity"))
	p := &transportPath{tr: rt.Transport(newReplayTransport(benchrig.Text(size))),
		body: &benchrig.Body{}, data: benchrig.Text(size)}
	p.req, _ = http.NewRequest(http.MethodPost, "http://llm.test/v1/chat", nil)
	p.req.Header.Set("Content-Type", "application/json")
	p.req.ContentLength = int64(size)
	if rewindable {
		p.req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }
	}
	return p
}

// call sends the request once and reads the answer to its end.
func (p *transportPath) call() {
	p.body.Reset(p.data)
	p.req.Body = p.body
	resp, err := p.tr.RoundTrip(p.req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// BenchmarkTransportRequestPath is the sampled outbound call's cost on the
// caller's goroutine, around a base that answers at once, beside that
// base alone.
func BenchmarkTransportRequestPath(b *testing.B) {
	bare := newReplayTransport(benchrig.Text(1024))
	req, _ := http.NewRequest(http.MethodPost, "http://llm.test/v1/chat", nil)
	body := &benchrig.Body{}
	data := benchrig.Text(1024)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			body.Reset(data)
			req.Body = body
			resp, _ := bare.RoundTrip(req)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	for _, bc := range []struct {
		name       string
		rewindable bool
	}{{"sampled_1KiB", false}, {"sampled_1KiB_rewindable", true}} {
		p := newTransportPath(b, 1024, bc.rewindable)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				p.call()
			}
		})
	}
}
