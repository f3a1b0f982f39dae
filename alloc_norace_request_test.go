//go:build !race

package safecheck

import "testing"

// Under -race, sync.Pool drops items at random, so a pooled Capture may be
// made afresh: these counts hold without it only.

// TestSampledRequestPathAllocations pins what one sampled exchange
// allocates on the request path, inbound and outbound. Inbound, on a
// writer with only http.Flusher: httpsnoop's state, and for each of the
// WriteHeader and Write hooks the method value it hooks and the closure
// bound to this exchange (a kept writer must still reach its own
// writer), and the request body's tee; on a writer with net/http's
// optional interfaces, two more for each of the ReadFrom and WriteString
// hooks. Outbound: the exchange, and the closure that rewinds a body the
// base sends again.
func TestSampledRequestPathAllocations(t *testing.T) {
	want := map[string]float64{"sampled_1KiB_request_path": 6, "sampled_1KiB_request_path_server_writer": 10}
	for _, bc := range middlewareCases(t) {
		w, ok := want[bc.name]
		if !ok {
			continue
		}
		bc.rig.Serve()
		if n := testing.AllocsPerRun(200, bc.rig.Serve); n != w {
			t.Errorf("%s: %v allocs per request, want %v", bc.name, n, w)
		}
	}
	for _, tc := range []struct {
		rewindable bool
		want       float64
	}{{false, 1}, {true, 2}} {
		p := newTransportPath(t, 1024, tc.rewindable)
		p.call()
		if n := testing.AllocsPerRun(200, p.call); n != tc.want {
			t.Errorf("outbound (GetBody set: %v): %v allocs per call, want %v", tc.rewindable, n, tc.want)
		}
	}
}
