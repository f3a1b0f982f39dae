package assurancehub

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHMACSignerValidation(t *testing.T) {
	secret := []byte("0123456789abcdef")
	tests := []struct {
		name   string
		keyID  string
		secret []byte
		ok     bool
	}{
		{"valid", "gw-2025.01_a", secret, true},
		{"64-character id", strings.Repeat("k", 64), secret, true},
		{"empty id", "", secret, false},
		{"65-character id", strings.Repeat("k", 65), secret, false},
		{"comma in id", "a,v1=00", secret, false},
		{"space in id", "a b", secret, false},
		{"short secret", "k", secret[:15], false},
		{"no secret", "k", nil, false},
	}
	for _, tt := range tests {
		sign, err := HMACSigner(tt.keyID, tt.secret)
		if tt.ok != (err == nil) || tt.ok != (sign != nil) {
			t.Errorf("%s: HMACSigner = %v, %v; want ok %v", tt.name, sign != nil, err, tt.ok)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), secret) {
			t.Errorf("%s: error %q contains the secret", tt.name, err)
		}
	}
}

func TestHMACSignerHeader(t *testing.T) {
	secret := []byte("a secret of enough bytes")
	sign, err := HMACSigner("gw1", secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'X' // the signer keeps its own copy
	body := []byte(`{"prompt":"p","response":"r"}`)
	req, _ := http.NewRequest(http.MethodPost, "https://api.example/v1/evaluate/bias", nil)
	before := time.Now().Unix()
	if err := sign(req, body); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^t=(\d+),kid=gw1,v1=([0-9a-f]{64})$`).FindStringSubmatch(req.Header.Get(SignatureHeader))
	if m == nil {
		t.Fatalf("%s = %q", SignatureHeader, req.Header.Get(SignatureHeader))
	}
	ts, _ := strconv.ParseInt(m[1], 10, 64)
	if ts < before || ts > time.Now().Unix() {
		t.Errorf("timestamp %d is not now", ts)
	}
	if want := HMACSignature([]byte("a secret of enough bytes"), m[1], body); m[2] != want {
		t.Errorf("v1 = %s, want %s", m[2], want)
	}
	// A known vector, so that other implementations can check themselves:
	// HMAC-SHA256("a secret of enough bytes", "1700000000.{}").
	if got := HMACSignature([]byte("a secret of enough bytes"), "1700000000", []byte("{}")); got != knownSignature {
		t.Errorf("HMACSignature = %s, want %s", got, knownSignature)
	}
}

func TestRequestSignerSeesTheFinalRequest(t *testing.T) {
	srv, rec := newServer(t, nil)
	var signed []byte
	sign := func(req *http.Request, body []byte) error {
		if req.Header.Get("Authorization") == "" || req.Header.Get("Content-Type") != "application/json" {
			t.Error("the signer ran before the client's headers were set")
		}
		signed = bytes.Clone(body)
		req.Header.Set("X-Test-Signature", "sig")
		return nil
	}
	c := newTestClient(t, srv.URL, WithRequestSigner(sign))
	if _, err := c.Evaluate(context.Background(), Bias, Request{Prompt: "p", Response: "r", CustomerID: "c"}); err != nil {
		t.Fatal(err)
	}
	got := rec.all()[0]
	if !bytes.Equal(got.Body, signed) || len(signed) == 0 {
		t.Errorf("signed body %q, sent body %q", signed, got.Body)
	}
	if got.Header.Get("X-Test-Signature") != "sig" {
		t.Error("the signer's header was not sent")
	}

	failing := func(req *http.Request, body []byte) error {
		return errors.New("signing service refused " + req.Header.Get("Authorization"))
	}
	c = newTestClient(t, srv.URL, WithRequestSigner(failing))
	c2, _ := New(WithAPIKey(canaryKey), WithBaseURL(srv.URL), WithRequestSigner(failing))
	for _, c := range []*Client{c, c2} {
		_, err := c.Evaluate(context.Background(), Bias, biasRequest)
		if err == nil || !strings.Contains(err.Error(), "signing the request") {
			t.Fatalf("err = %v, want a signing error", err)
		}
		checkNoLeak(t, "signer error", err.Error())
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("signer error %q leaks the key", err)
		}
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("server saw %d requests, want 1 (none after signing failed)", n)
	}
}

// knownSignature was computed independently with Python's hmac module.
const knownSignature = "71e45c5a3a2b9eb2cb22af2aa84cdd2f78ff0e06c8366c11c84b483103ea8b21"
