package benchrig

import (
	"bytes"
	"net/http"
	"strings"
)

// Writer is a reusable ResponseWriter that counts what is written to it.
type Writer struct {
	H http.Header
	N int
}

// Header returns the header map.
func (w *Writer) Header() http.Header { return w.H }

// Write counts p.
func (w *Writer) Write(p []byte) (int, error) { w.N += len(p); return len(p), nil }

// WriteHeader does nothing.
func (w *Writer) WriteHeader(int) {}

// Flush does nothing.
func (w *Writer) Flush() {}

// Body is a request body that can be rewound without allocating.
type Body struct{ bytes.Reader }

// Close does nothing.
func (*Body) Close() error { return nil }

// Rig serves a POST of Data to H with a reused writer and request.
type Rig struct {
	H    http.Handler
	W    *Writer
	R    *http.Request
	Body *Body
	Data []byte
}

// Text returns size bytes of English-looking text.
func Text(size int) []byte {
	return []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", size/45+1)[:size])
}

// New returns a rig that posts data as text/plain to url through h.
func New(h http.Handler, url string, data []byte) *Rig {
	rig := &Rig{H: h, W: &Writer{H: http.Header{"Content-Type": {"text/plain"}}}, Body: &Body{}, Data: data}
	rig.R, _ = http.NewRequest(http.MethodPost, url, nil)
	rig.R.Header.Set("Content-Type", "text/plain")
	return rig
}

// Serve sends the request once.
func (rig *Rig) Serve() {
	rig.Body.Reset(rig.Data)
	rig.R.Body = rig.Body
	rig.H.ServeHTTP(rig.W, rig.R)
}
