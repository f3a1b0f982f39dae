package safecheckgin

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
)

// gzipWriter and gzipMiddleware compress the way gin-contrib/gzip does:
// Content-Encoding is set before the handlers run and c.Writer is wrapped.
type gzipWriter struct {
	gin.ResponseWriter
	gz *gzip.Writer
}

func (w *gzipWriter) Write(p []byte) (int, error)       { return w.gz.Write(p) }
func (w *gzipWriter) WriteString(s string) (int, error) { return w.gz.Write([]byte(s)) }

func gzipMiddleware(c *gin.Context) {
	gz := gzip.NewWriter(c.Writer)
	c.Header("Content-Encoding", "gzip")
	c.Header("Vary", "Accept-Encoding")
	c.Writer = &gzipWriter{ResponseWriter: c.Writer, gz: gz}
	defer func() {
		gz.Close()
		c.Header("Content-Length", "") // unknown once compressed
	}()
	c.Next()
}

// TestOutsideCompression mounts safecheck outside a compression middleware,
// as doc.go advises: the capture holds the compressed bytes with their
// Content-Encoding, and the text checked is the plain answer.
func TestOutsideCompression(t *testing.T) {
	rec := &recorder{}
	g := newGuard(t, rec)
	e := gin.New()
	e.Use(mustMiddleware(t, g, WithRoute("GET", "/z", safecheck.WithSampleRate(1), safecheck.WithTestTypes("toxicity"), askedFor)), gzipMiddleware)
	answer := strings.Repeat("a compressed answer. ", 50)
	e.GET("/z", func(c *gin.Context) { c.String(http.StatusOK, answer) })
	srv := serve(t, e)

	req := newRequest(t, "GET", srv.URL+"/z", "", map[string]string{"Accept-Encoding": "gzip"})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := io.ReadAll(zr); err != nil || string(body) != answer {
		t.Fatalf("client read %q, %v", body, err)
	}
	s := closeGuard(t, g)
	reqs := rec.requests()
	if s.Checked != 1 || len(reqs) != 1 || reqs[0].Response != answer {
		t.Errorf("checked %d, dropped %v, checker saw %q; want the plain answer checked once", s.Checked, s.Dropped, reqs)
	}
}
