package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The signing test of the Standard Webhooks reference libraries.
func TestSignMatchesTheSpecificationsVector(t *testing.T) {
	got, err := Sign(testSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func signedHeaders(t testing.TB, secrets []string, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := decodeSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, signature(keys, id, ts, body))
	return h
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"verdict.flagged"}`)
	now := time.Date(2026, time.December, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		secret string
		header func() http.Header
		body   []byte
		tol    time.Duration
		want   error
	}{
		{"valid", testSecret, func() http.Header { return signedHeaders(t, []string{testSecret}, "evt_1", now, body) }, body, 0, nil},
		{"rotation: the old secret still verifies", testSecret,
			func() http.Header { return signedHeaders(t, []string{otherSecret, testSecret}, "evt_1", now, body) }, body, 0, nil},
		{"rotation: the new secret verifies", otherSecret,
			func() http.Header { return signedHeaders(t, []string{otherSecret, testSecret}, "evt_1", now, body) }, body, 0, nil},
		{"wrong secret", otherSecret, func() http.Header { return signedHeaders(t, []string{testSecret}, "evt_1", now, body) }, body, 0, ErrInvalidSignature},
		{"body changed", testSecret, func() http.Header { return signedHeaders(t, []string{testSecret}, "evt_1", now, body) }, append([]byte(" "), body...), 0, ErrInvalidSignature},
		{"id changed", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Set(HeaderID, "evt_2")
			return h
		}, body, 0, ErrInvalidSignature},
		{"timestamp changed within tolerance", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return h
		}, body, 0, ErrInvalidSignature},
		{"only other schemes", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v1a,", 1))
			return h
		}, body, 0, ErrInvalidSignature},
		{"several entries, one valid", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x v1,!!! "+h.Get(HeaderSignature)+" v1,")
			return h
		}, body, 0, nil},
		{"no id", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Del(HeaderID)
			return h
		}, body, 0, ErrMissingHeader},
		{"no timestamp", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Del(HeaderTimestamp)
			return h
		}, body, 0, ErrMissingHeader},
		{"no signature", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Del(HeaderSignature)
			return h
		}, body, 0, ErrMissingHeader},
		{"signed timestamp not digits", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Set(HeaderTimestamp, "+"+h.Get(HeaderTimestamp))
			return h
		}, body, 0, ErrMalformedTimestamp},
		{"timestamp in milliseconds", testSecret, func() http.Header {
			h := signedHeaders(t, []string{testSecret}, "evt_1", now, body)
			h.Set(HeaderTimestamp, strconv.FormatInt(now.UnixMilli(), 10))
			return h
		}, body, 0, ErrTimestamp},
		{"just inside the default tolerance, past", testSecret, func() http.Header {
			return signedHeaders(t, []string{testSecret}, "evt_1", now.Add(-DefaultTolerance), body)
		}, body, 0, nil},
		{"outside the default tolerance, past", testSecret, func() http.Header {
			return signedHeaders(t, []string{testSecret}, "evt_1", now.Add(-DefaultTolerance-time.Second), body)
		}, body, 0, ErrTimestamp},
		{"outside the default tolerance, future", testSecret, func() http.Header {
			return signedHeaders(t, []string{testSecret}, "evt_1", now.Add(DefaultTolerance+time.Second), body)
		}, body, 0, ErrTimestamp},
		{"inside a wider tolerance", testSecret, func() http.Header {
			return signedHeaders(t, []string{testSecret}, "evt_1", now.Add(-time.Hour), body)
		}, body, 2 * time.Hour, nil},
		{"secret without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", func() http.Header {
			return signedHeaders(t, []string{testSecret}, "evt_1", now, body)
		}, body, 0, ErrInvalidSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyAt(tc.secret, tc.header(), tc.body, tc.tol, now)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyFollowsTheClock(t *testing.T) {
	body := []byte(`{}`)
	synctest.Test(t, func(t *testing.T) {
		h := signedHeaders(t, []string{testSecret}, "evt_1", time.Now(), body)
		if err := Verify(testSecret, h, body, time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if err := Verify(testSecret, h, body, time.Minute); err != nil {
			t.Fatalf("at the tolerance: %v", err)
		}
		time.Sleep(time.Second)
		if err := Verify(testSecret, h, body, time.Minute); !errors.Is(err, ErrTimestamp) {
			t.Fatalf("a replay after the tolerance: %v, want ErrTimestamp", err)
		}
	})
}

func TestSecretsAreCheckedAndNeverQuoted(t *testing.T) {
	for _, tc := range []struct{ name, secret string }{
		{"empty", ""},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		{"not base64", "whsec_not*base64*at*all*but*long*enough"},
		{"too short", "whsec_c2hvcnQ="},
		{"too long", "whsec_" + strings.Repeat("QUFB", 30)},
		{"url-safe alphabet", "whsec_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSecret(tc.secret)
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("decodeSecret: %v, want ErrInvalidSecret", err)
			}
			if rest := strings.TrimPrefix(tc.secret, SecretPrefix); len(rest) > 4 && strings.Contains(err.Error(), rest) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
	if _, err := decodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatalf("a 24-byte key: %v", err)
	}
	if _, err := decodeSecret("whsec_c2FmZWNoZWNrLXRlc3Qtcm90YXRlZC1rZXktMzI"); err != nil {
		t.Fatalf("unpadded base64: %v", err)
	}
}
