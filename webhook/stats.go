package webhook

import "fmt"

// DropReason is why an event was neither delivered nor failed. The zero
// DropReason is not a reason.
type DropReason uint8

// The reasons, in the order DropReasons returns them.
const (
	DroppedQueueFull   DropReason = iota + 1 // the endpoint's queue was full when the event came
	DroppedCircuitOpen                       // the endpoint's circuit was open
	DroppedClosed                            // the event came after Close began
	DroppedShutdown                          // queued, but Close's context ended before its delivery
	DroppedGone                              // the endpoint answered 410 Gone to an earlier delivery
	numReasons
)

var reasonNames = [numReasons]string{"", "queue_full", "circuit_open", "closed", "shutdown", "gone"}

// String returns the reason's name, such as "queue_full", or "" for a
// value that is not a reason.
func (r DropReason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return ""
}

// Valid reports whether r is one of the reasons above.
func (r DropReason) Valid() bool { return r > 0 && r < numReasons }

// MarshalText writes the reason's name, so that Dropped encodes as
// {"queue_full": 3} in JSON.
func (r DropReason) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("webhook: %d is not a drop reason", uint8(r))
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText reads a reason's name.
func (r *DropReason) UnmarshalText(b []byte) error {
	for i := DropReason(1); i < numReasons; i++ {
		if reasonNames[i] == string(b) {
			*r = i
			return nil
		}
	}
	return fmt.Errorf("webhook: unknown drop reason %q", b)
}

// DropReasons returns every reason, in a stable order.
func DropReasons() []DropReason {
	out := make([]DropReason, 0, numReasons-1)
	for r := DropReason(1); r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Counts is what happened to the events offered to an endpoint (or, in
// Stats.Total, to all of them). Every offered event is in exactly one of
// Delivered, Failed, Dropped or Queued:
//
//	Offered == Delivered + Failed + sum(Dropped) + Queued
//
// holds in every snapshot Stats returns, and after Close, Queued is 0.
type Counts struct {
	Offered   uint64 // events Send passed to the endpoint
	Enqueued  uint64 // of those, the ones its queue took
	Delivered uint64 // answered 2xx
	Failed    uint64 // given up: retries spent, or an answer not worth retrying (3xx, 4xx)
	Dropped   map[DropReason]uint64
	Retries   uint64 // attempts after the first, over all events
	Queued    int    // enqueued and not yet delivered, failed or dropped (includes those in delivery)
}

// EndpointStats is one endpoint's Counts and state.
type EndpointStats struct {
	// Endpoint is the URL's scheme and host ("https://hooks.example.com"):
	// its path and query may hold a token, so they are left out.
	Endpoint    string
	CircuitOpen bool
	Gone        bool // it answered 410 Gone: no more deliveries go to it
	Counts
}

// Stats is a snapshot of a Sink's counters.
type Stats struct {
	Received uint64 // Send calls
	Filtered uint64 // events of a kind WithKinds leaves out
	// Invalid counts events without an ID, with an ID a header cannot carry
	// (it has a '.', a space or a control character, or is over 256 bytes)
	// or without a valid Kind: they are offered to no endpoint.
	Invalid uint64
	// Total sums the endpoints' counts. Every endpoint is offered each event
	// that was not filtered or invalid: once no Send is running, each
	// endpoint's Offered is Received - Filtered - Invalid.
	Total     Counts
	Endpoints []EndpointStats // in the order of the WithEndpoint options
}

func (c *Counts) add(o Counts) {
	c.Offered += o.Offered
	c.Enqueued += o.Enqueued
	c.Delivered += o.Delivered
	c.Failed += o.Failed
	c.Retries += o.Retries
	c.Queued += o.Queued
	if c.Dropped == nil {
		c.Dropped = map[DropReason]uint64{}
	}
	for r, n := range o.Dropped {
		c.Dropped[r] += n
	}
}

// ByEndpoint returns the endpoints' stats with those that share an
// Endpoint name (scheme and host) summed into one, in the order the names
// first appear: one entry per series for an exporter that labels by
// endpoint. A merged entry's CircuitOpen is set when any of its endpoints'
// is, Gone when all of theirs are. Its Dropped map is its own.
func (s Stats) ByEndpoint() []EndpointStats {
	out := make([]EndpointStats, 0, len(s.Endpoints))
	at := make(map[string]int, len(s.Endpoints))
	for _, ep := range s.Endpoints {
		i, seen := at[ep.Endpoint]
		if !seen {
			i = len(out)
			at[ep.Endpoint] = i
			out = append(out, EndpointStats{Endpoint: ep.Endpoint, Gone: true})
		}
		m := &out[i]
		m.CircuitOpen = m.CircuitOpen || ep.CircuitOpen
		m.Gone = m.Gone && ep.Gone
		m.Counts.add(ep.Counts)
	}
	return out
}
