package drop

import "fmt"

// Reason is why a sample was not checked. The zero Reason is not a reason.
type Reason uint8

// The reasons, in the order Reasons returns them.
const (
	QueueFull     Reason = iota + 1 // the queue holds its maximum number of samples
	QueueBytes                      // the queue's byte budget is spent
	CircuitOpen                     // the API is failing; checks are paused
	RateLimited                     // a Retry-After pause, or no plan rate-limit permit in time
	Closed                          // sampled after Close began
	Shutdown                        // admitted but not checked before Close's deadline
	HandlerPanic                    // the handler panicked; the exchange is incomplete
	EmptyResponse                   // no response text to check
	Binary                          // the body is not text (image, audio, ...)
	Undecodable                     // a compressed body could not be decoded
	ExtractError                    // the extractor failed
	Aborted                         // an adapter aborted the capture
	AuthFailed                      // the API rejected the key; no call is made until it changes
	EmptyPrompt                     // no prompt text to check (see safecheck.WithPrompt)
	Panic                           // application code (extractor, id function, scrubber) panicked
	Overload                        // the checking pipeline has spent its CPU budget (see safecheck.WithCPUBudget)
	numReasons
)

var names = [numReasons]string{
	"", "queue_full", "queue_bytes", "circuit_open", "rate_limited", "closed", "shutdown",
	"handler_panic", "empty_response", "binary", "undecodable", "extract_error", "aborted",
	"auth_failed", "empty_prompt", "panic", "overload",
}

// String returns the reason's name as logs and metric labels write it,
// such as "queue_full", or "" for a value that is not a reason.
func (r Reason) String() string {
	if r < numReasons {
		return names[r]
	}
	return ""
}

// MarshalText writes the reason's name, so that maps keyed by reasons
// encode as {"queue_full": 3} in JSON.
func (r Reason) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("drop: %d is not a reason", uint8(r))
	}
	return []byte(names[r]), nil
}

// UnmarshalText reads a reason's name.
func (r *Reason) UnmarshalText(b []byte) error {
	for i := Reason(1); i < numReasons; i++ {
		if names[i] == string(b) {
			*r = i
			return nil
		}
	}
	return fmt.Errorf("drop: unknown reason %q", b)
}

// Valid reports whether r is one of the reasons above.
func (r Reason) Valid() bool { return r > 0 && r < numReasons }

// Reasons returns every reason, in a stable order, for exporters that
// present each one from the start.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := Reason(1); r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}
