package failure

import "fmt"

// Class names why a check failed. The classes appear in logs, Stats and
// metric labels, so they form a small closed set. The zero Class is not a
// class.
type Class uint8

// The classes, in the order Classes returns them.
const (
	RateLimited  Class = iota + 1 // 429: retried after its Retry-After
	Server                        // 5xx: retried
	Unauthorized                  // 401 or 403, or no valid key: checks stop until the key changes
	BadRequest                    // another 4xx, or a request the checker refused: never retried
	Network                       // no answer: retried
	Timeout                       // the attempt timed out: retried
	Malformed                     // an answer that could not be decoded
	CircuitOpen                   // the circuit breaker refused the call
	Canceled                      // the caller or Close canceled the check
	Panic                         // the checker panicked
	Config                        // a local setting refuses the call, e.g. a certificate pin mismatch
	numClasses
)

var names = [numClasses]string{
	"", "rate_limited", "server_error", "unauthorized", "bad_request", "network", "timeout",
	"malformed_response", "circuit_open", "canceled", "checker_panic", "configuration",
}

// String returns the class's name as logs and metric labels write it,
// such as "server_error", or "" for a value that is not a class.
func (c Class) String() string {
	if c < numClasses {
		return names[c]
	}
	return ""
}

// Valid reports whether c is one of the classes above.
func (c Class) Valid() bool { return c > 0 && c < numClasses }

// Retryable reports whether another attempt after a failure of this class
// may succeed.
func (c Class) Retryable() bool {
	switch c {
	case RateLimited, Server, Network, Timeout:
		return true
	}
	return false
}

// MarshalText writes the class's name, so that maps keyed by classes encode
// as {"server_error": 3} in JSON.
func (c Class) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("failure: %d is not a class", uint8(c))
	}
	return []byte(names[c]), nil
}

// UnmarshalText reads a class's name.
func (c *Class) UnmarshalText(b []byte) error {
	for i := Class(1); i < numClasses; i++ {
		if names[i] == string(b) {
			*c = i
			return nil
		}
	}
	return fmt.Errorf("failure: unknown class %q", b)
}

// Classes returns every class, in a stable order, for exporters that
// present each one from the start.
func Classes() []Class {
	out := make([]Class, 0, numClasses-1)
	for c := Class(1); c < numClasses; c++ {
		out = append(out, c)
	}
	return out
}
