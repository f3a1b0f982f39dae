package assurancehubtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
)

var testSecret = []byte("fake signing secret, 32 bytes..")

// signed returns a signature header value for body at time at.
func signed(kid string, secret []byte, at time.Time, body string) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return "t=" + ts + ",kid=" + kid + ",v1=" + assurancehub.HMACSignature(secret, ts, []byte(body))
}

func TestHMACVerification(t *testing.T) {
	s := newServer(t, WithHMACVerification("gw-1", testSecret))
	now := time.Now()
	good := signed("gw-1", testSecret, now, benignBody)
	auth := "Bearer " + TestAPIKey
	tests := []struct {
		name    string
		headers map[string][]string
		body    string
		status  int
		msg     string
	}{
		{"valid", map[string][]string{"Authorization": {auth}, "X-Assurancehub-Signature": {good}}, benignBody, 200, ""},
		{"parts in another order, unknown part ignored", map[string][]string{"Authorization": {auth},
			"X-Assurancehub-Signature": {reorder(good) + ",v2=future"}}, benignBody, 200, ""},
		{"missing", map[string][]string{"Authorization": {auth}}, benignBody, 401, msgBadSignature},
		{"repeated header", map[string][]string{"Authorization": {auth}, "X-Assurancehub-Signature": {good, good}}, benignBody, 401, msgBadSignature},
		{"malformed", map[string][]string{"Authorization": {auth}, "X-Assurancehub-Signature": {"v1 " + good}}, benignBody, 401, msgBadSignature},
		{"repeated part", map[string][]string{"Authorization": {auth}, "X-Assurancehub-Signature": {good + ",kid=gw-1"}}, benignBody, 401, msgBadSignature},
		{"other key id", map[string][]string{"Authorization": {auth},
			"X-Assurancehub-Signature": {signed("gw-2", testSecret, now, benignBody)}}, benignBody, 401, msgBadSignature},
		{"other secret", map[string][]string{"Authorization": {auth},
			"X-Assurancehub-Signature": {signed("gw-1", []byte("another fake secret of 32 bytes"), now, benignBody)}}, benignBody, 401, msgBadSignature},
		{"too old", map[string][]string{"Authorization": {auth},
			"X-Assurancehub-Signature": {signed("gw-1", testSecret, now.Add(-SignatureTolerance-time.Minute), benignBody)}}, benignBody, 401, msgBadSignature},
		{"from the future", map[string][]string{"Authorization": {auth},
			"X-Assurancehub-Signature": {signed("gw-1", testSecret, now.Add(SignatureTolerance+time.Minute), benignBody)}}, benignBody, 401, msgBadSignature},
		{"body changed after signing", map[string][]string{"Authorization": {auth}, "X-Assurancehub-Signature": {good}},
			strings.Replace(benignBody, "Paris", "Lyon!", 1), 401, msgBadSignature},
		{"upper-case hex", map[string][]string{"Authorization": {auth}, "X-Assurancehub-Signature": {upperV1(good)}}, benignBody, 401, msgBadSignature},
		{"valid signature, no key", map[string][]string{"X-Assurancehub-Signature": {good}}, benignBody, 401, msgInvalidKey},
	}
	evaluated := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/evaluate/bias", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, vs := range tt.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body.Error != tt.msg {
				t.Errorf("answer %d %q, want %d %q", resp.StatusCode, body.Error, tt.status, tt.msg)
			}
			if tt.status == 200 {
				evaluated++
			}
			if got := s.Requests(assurancehub.Bias); got != evaluated {
				t.Errorf("evaluated %d, want %d", got, evaluated)
			}
		})
	}
}

func reorder(sig string) string {
	parts := strings.Split(sig, ",")
	return parts[2] + "," + parts[0] + "," + parts[1]
}

func upperV1(sig string) string {
	i := strings.Index(sig, "v1=") + 3
	return sig[:i] + strings.ToUpper(sig[i:])
}

func TestHMACVerificationValidation(t *testing.T) {
	for _, tc := range []struct {
		kid    string
		secret []byte
	}{
		{"", testSecret},
		{"a,b", testSecret},
		{"gw", testSecret[:15]},
		{"gw", nil},
	} {
		_, err := NewHandler(WithHMACVerification(tc.kid, tc.secret))
		if err == nil || !strings.Contains(err.Error(), "WithHMACVerification") {
			t.Errorf("WithHMACVerification(%q, %d bytes): err = %v", tc.kid, len(tc.secret), err)
		}
		if err != nil && len(tc.secret) > 0 && strings.Contains(err.Error(), string(tc.secret)) {
			t.Errorf("error %q holds the secret", err)
		}
	}
}

func TestRequestsWithKey(t *testing.T) {
	s := newServer(t, WithAPIKeys(TestAPIKey, otherTestKey))
	withKey := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
	}
	for _, c := range []call{
		{header: withKey(TestAPIKey), body: benignBody},
		{header: withKey(TestAPIKey), body: benignBody, path: "/v1/evaluate/pii"},
		{header: withKey(otherTestKey), body: benignBody},
		{header: withKey(otherTestKey), body: `{}`},                             // 422: not evaluated
		{header: withKey("ash_test_unknown0123456789abcdef"), body: benignBody}, // 401
		{header: map[string]string{"X-API-Key": otherTestKey, "Content-Type": "application/json"}, body: benignBody},
	} {
		send(t, s.Client(), s.URL, c)
	}
	for key, want := range map[string]int{TestAPIKey: 2, otherTestKey: 2, "ash_test_unknown0123456789abcdef": 0, "": 0} {
		if got := s.RequestsWithKey(key); got != want {
			t.Errorf("RequestsWithKey(%.14s) = %d, want %d", key, got, want)
		}
	}
	s.Reset()
	if got := s.RequestsWithKey(TestAPIKey); got != 0 {
		t.Errorf("after Reset: RequestsWithKey = %d", got)
	}
}

func TestWithTLS(t *testing.T) {
	s := newServer(t, WithTLS())
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || s.Certificate() == nil {
		t.Fatalf("URL %q, certificate %v", s.URL, s.Certificate())
	}
	if r := send(t, s.Client(), s.URL, call{body: benignBody}); r.status != 200 {
		t.Errorf("status %d over TLS", r.status)
	}
	if _, err := http.Post(s.URL+"/v1/evaluate/bias", "application/json", strings.NewReader(benignBody)); err == nil {
		t.Error("a client that does not trust the certificate got through")
	}
	if plain := newServer(t); plain.Certificate() != nil || !strings.HasPrefix(plain.URL, "http://") {
		t.Errorf("plain server: URL %q, certificate %v", plain.URL, plain.Certificate())
	}
}

// FuzzVerifySignature feeds arbitrary signature headers and bodies to the
// verifier: it never panics, accepts only a header whose v1 is the HMAC of
// its own timestamp and the body, and always accepts a fresh signature.
func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	f.Add(signed("gw-1", testSecret, now, benignBody), []byte(benignBody))
	f.Add("t=1700000000,kid=gw-1,v1=", []byte("{}"))
	f.Add("t=-1,kid=gw-1,v1=00", []byte(""))
	f.Add("kid=gw-1,,t=99999999999999999999", []byte("x"))
	f.Add("t=1700000000,t=1700000000", []byte(nil))
	v := &hmacVerifier{keyID: "gw-1", secret: testSecret}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := v.verify([]string{header}, body, now)
		if err == nil {
			sig, perr := parseSignature(header)
			if perr != nil || sig.kid != "gw-1" || sig.v1 != assurancehub.HMACSignature(testSecret, sig.t, body) {
				t.Fatalf("accepted %q for body %q", header, body)
			}
		}
		if err := v.verify([]string{signed("gw-1", testSecret, now, string(body))}, body, now); err != nil {
			t.Fatalf("a fresh signature of %q was refused: %v", body, err)
		}
	})
}
