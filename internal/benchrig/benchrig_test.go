package benchrig

import (
	"io"
	"net/http"
	"testing"
)

func TestServeRewindsTheBody(t *testing.T) {
	var reads []int
	rig := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(w, r.Body)
		reads = append(reads, int(n))
	}), "http://example.test/", Text(100))
	for range 3 {
		rig.Serve()
	}
	if len(reads) != 3 || reads[0] != 100 || reads[2] != 100 || rig.W.N != 300 {
		t.Errorf("reads %v, written %d; want the whole body every time", reads, rig.W.N)
	}
	if got := string(Text(9)); got != "the quick" {
		t.Errorf("Text(9) = %q", got)
	}
}
