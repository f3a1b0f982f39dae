package failure

import (
	"encoding/json"
	"testing"
)

func TestClassNames(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Classes() {
		name := c.String()
		if name == "" || seen[name] || !c.Valid() {
			t.Errorf("class %d: name %q (valid %v) is empty, repeated or invalid", c, name, c.Valid())
		}
		seen[name] = true
		var back Class
		if err := back.UnmarshalText([]byte(name)); err != nil || back != c {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", name, back, err, c)
		}
	}
	for _, c := range []Class{0, numClasses, 255} {
		if c.Valid() || c.String() != "" {
			t.Errorf("Class(%d) = %q, valid %v; want no name and invalid", c, c.String(), c.Valid())
		}
		if _, err := c.MarshalText(); err == nil {
			t.Errorf("Class(%d).MarshalText: no error", c)
		}
	}
	var c Class
	if err := c.UnmarshalText([]byte("nope")); err == nil {
		t.Error(`UnmarshalText("nope"): no error`)
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		c    Class
		want bool
	}{
		{RateLimited, true}, {Server, true}, {Network, true}, {Timeout, true},
		{Unauthorized, false}, {BadRequest, false}, {Malformed, false}, {CircuitOpen, false},
		{Canceled, false}, {Panic, false}, {Config, false}, {0, false},
	} {
		if got := tc.c.Retryable(); got != tc.want {
			t.Errorf("%v.Retryable() = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestMapKeysEncodeAsNames(t *testing.T) {
	b, err := json.Marshal(map[Class]int{Server: 2, Timeout: 1})
	if err != nil || string(b) != `{"server_error":2,"timeout":1}` {
		t.Fatalf("json = %s, %v", b, err)
	}
}
