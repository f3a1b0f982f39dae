package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds Verify untrusted headers and bodies: it never panics,
// fails only with its sentinel errors, accepts only what Sign produced,
// and always accepts a delivery signed the way a Sink signs it.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1614265330, 0)
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("evt_1", "1614265330", "v1a,abc v1,", []byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		err := verifyAt(testSecret, h, body, 0, now)
		if err != nil {
			known := false
			for _, e := range []error{ErrMissingHeader, ErrMalformedTimestamp, ErrTimestamp, ErrInvalidSignature} {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("Verify: unexpected error %v", err)
			}
		} else {
			sec, _ := strconv.ParseInt(ts, 10, 64)
			want, serr := Sign(testSecret, id, time.Unix(sec, 0), body)
			if serr != nil || !containsField(sig, want) {
				t.Fatalf("Verify accepted %q, which does not hold %q", sig, want)
			}
		}
		if id == "" || strings.TrimSpace(id) != id {
			return // a header that cannot carry it unchanged
		}
		good := signedHeaders(t, []string{otherSecret, testSecret}, id, now, body)
		if err := verifyAt(testSecret, good, body, 0, now); err != nil {
			t.Fatalf("a delivery signed for id %q: %v", id, err)
		}
	})
}

// containsField reports whether want is one of the space-separated fields
// of s.
func containsField(s, want string) bool {
	for f := range strings.FieldsSeq(s) {
		if f == want {
			return true
		}
	}
	return false
}
