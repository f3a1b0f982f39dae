package drop

import "testing"

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		name := r.String()
		if name == "" || seen[name] || !r.Valid() {
			t.Errorf("reason %d: name %q (valid %v) is empty, repeated or invalid", r, name, r.Valid())
		}
		seen[name] = true
	}
	for _, r := range []Reason{0, numReasons, 255} {
		if r.Valid() || r.String() != "" {
			t.Errorf("Reason(%d) = %q, valid %v; want no name and invalid", r, r.String(), r.Valid())
		}
	}
	if QueueFull.String() != "queue_full" || Panic.String() != "panic" || Overload.String() != "overload" {
		t.Errorf("names moved: %q %q", QueueFull, Panic)
	}
}
