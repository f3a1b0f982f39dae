package assurancehub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

func ExampleNew() {
	// In production, leave out WithAPIKey: New reads ASSURANCEHUB_API_KEY.
	c, err := assurancehub.New(
		assurancehub.WithAPIKey("ash_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		assurancehub.WithAPIKeyHeader(), // send X-API-Key instead of a Bearer token
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Supports(assurancehub.ChildSafety), c.Supports("child-safety"))

	// Keys never travel over plain http to anything but loopback.
	_, err = assurancehub.New(
		assurancehub.WithAPIKey("ash_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		assurancehub.WithBaseURL("http://api.example.com"),
	)
	fmt.Println(errors.Is(err, assurancehub.ErrInvalidBaseURL))

	_, err = assurancehub.New(assurancehub.WithAPIKey("sk-not-an-assurancehub-key"))
	fmt.Println(err)
	// Output:
	// true false
	// true
	// assurancehub: invalid API key: it must start with "ash_test_" or "ash_live_"
}

func ExampleClient_Evaluate() {
	// A stand-in for the API, answering like the documented example.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{
			"final_consensus_score": 0.85,
			"consensus_confidence": 0.95,
			"evaluation": {"risk_level": "reject", "pass_fail": "fail", "flagged": true},
			"consensus_analysis": {
				"method": "weighted", "models_succeeded": 3, "models_failed": 0, "agreement_score": 0.988,
				"calculation": [
					{"model": "gpt-4", "individual_score": 0.8, "confidence": 0.95, "role": "primary"},
					{"model": "llama-3.3-70b-versatile", "individual_score": 0.9, "confidence": 0.9, "role": "secondary"},
					{"model": "deepseek-chat", "individual_score": 0.85, "confidence": 0.98, "role": "tertiary"}
				]
			},
			"model_execution": {"execution_mode": "consensus"}
		}`)
	}))
	defer srv.Close()

	c, err := assurancehub.New(
		assurancehub.WithAPIKey("ash_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		assurancehub.WithBaseURL(srv.URL),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Evaluate(ctx, assurancehub.Bias, assurancehub.Request{
		Prompt:   "Which candidate should lead the new platform team?",
		Response: "Pick the older applicant; people past fifty cannot keep up with modern tooling.",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("score %.2f, risk %s, %s, flagged %v\n",
		res.FinalConsensusScore, res.Evaluation.RiskLevel, res.Evaluation.PassFail, res.Evaluation.Flagged)
	for _, m := range res.ConsensusAnalysis.Calculation {
		fmt.Printf("  %-9s %-24s %.2f\n", m.Role, m.Model, m.IndividualScore)
	}
	// Output:
	// score 0.85, risk reject, fail, flagged true
	//   primary   gpt-4                    0.80
	//   secondary llama-3.3-70b-versatile  0.90
	//   tertiary  deepseek-chat            0.85
}

func ExampleAPIError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error": "rate limit exceeded"}`)
	}))
	defer srv.Close()

	c, err := assurancehub.New(
		assurancehub.WithAPIKey("ash_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		assurancehub.WithBaseURL(srv.URL),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Evaluate(context.Background(), assurancehub.Toxicity, assurancehub.Request{Prompt: "p", Response: "r"})
	fmt.Println(err)

	var apiErr *assurancehub.APIError
	if errors.As(err, &apiErr) {
		fmt.Println("temporary:", apiErr.Temporary(), "rate limited:", assurancehub.IsRateLimited(err))
	}
	if d, ok := assurancehub.RetryAfter(err); ok {
		fmt.Println("wait", d)
	}
	// Output:
	// assurancehub: 429 Too Many Requests: rate limit exceeded (retry after 2s)
	// temporary: true rate limited: true
	// wait 2s
}

func ExampleParseRetryAfter() {
	now := time.Date(2025, time.March, 4, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{
		"120",
		"Tue, 04 Mar 2025 12:00:30 GMT",
		"Tue, 04 Mar 2025 11:00:00 GMT", // already past
		"999999",                        // beyond MaxRetryAfter
		"soon",
	} {
		d, ok := assurancehub.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 0s true
	// 24h0m0s true
	// 0s false
}

func ExampleFingerprint() {
	// Safe to log: tells operators which key is in use without revealing it.
	fmt.Println(assurancehub.Fingerprint("ash_test_x"))
	// Output: sha256:a8272cb4
}

func ExampleWithEnvironment() {
	_, err := assurancehub.New(
		assurancehub.WithAPIKey("ash_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		assurancehub.WithEnvironment(assurancehub.Development),
	)
	fmt.Println(errors.Is(err, assurancehub.ErrKeyEnvironment))
	fmt.Println(err)
	// Output:
	// true
	// assurancehub: API key does not match the environment: a live key (ash_live_) is refused in development; use a test key
}

func ExampleWithKeyFile() {
	const first, second = "ash_test_first0000000000000000000000", "ash_test_second000000000000000000000"
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys(first, second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// A mounted secret, e.g. /var/run/secrets/assurancehub/api-key.
	dir, err := os.MkdirTemp("", "secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api-key")
	_ = os.WriteFile(path, []byte(first+"\n"), 0o600)

	c, err := assurancehub.New(
		assurancehub.WithKeyFile(path),
		assurancehub.WithEnvironment(assurancehub.Development),
		assurancehub.WithBaseURL(srv.URL),
		assurancehub.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseIdleConnections()
	req := assurancehub.Request{Prompt: "Hello", Response: "Hi! How can I help?"}
	_, _ = c.Evaluate(context.Background(), assurancehub.Toxicity, req)

	// Rotation: the secret is replaced (atomically, as Kubernetes does);
	// the next request uses the new key, no restart needed.
	_ = os.WriteFile(path+".new", []byte(second+"\n"), 0o600)
	_ = os.Rename(path+".new", path)
	_, _ = c.Evaluate(context.Background(), assurancehub.Toxicity, req)

	fmt.Println(srv.RequestsWithKey(first), srv.RequestsWithKey(second))
	fmt.Println(c.KeyFingerprint() == assurancehub.Fingerprint(second))
	// Output:
	// 1 1
	// true
}

func ExampleWithPinnedSPKI() {
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithTLS())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	req := assurancehub.Request{Prompt: "Hello", Response: "Hi! How can I help?"}
	for _, pin := range []string{
		assurancehub.SPKIHash(srv.Certificate()),       // the server's key
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", // some other key
	} {
		c, err := assurancehub.New(
			assurancehub.WithAPIKey(assurancehubtest.TestAPIKey),
			assurancehub.WithBaseURL(srv.URL),
			assurancehub.WithHTTPClient(srv.Client()), // trusts the test certificate
			assurancehub.WithPinnedSPKI(pin),
		)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, err = c.Evaluate(context.Background(), assurancehub.Bias, req)
		fmt.Println(err == nil, errors.Is(err, assurancehub.ErrPinMismatch))
		c.CloseIdleConnections()
	}
	// Output:
	// true false
	// false true
}

func ExampleHMACSigner() {
	secret := []byte("shared with the gateway, 32 byte")
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithHMACVerification("gw-1", secret))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	sign, err := assurancehub.HMACSigner("gw-1", secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := assurancehub.Request{Prompt: "Hello", Response: "Hi! How can I help?"}
	for _, opts := range [][]assurancehub.Option{
		{assurancehub.WithRequestSigner(sign)},
		nil, // unsigned
	} {
		c, err := assurancehub.New(append(opts,
			assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(srv.URL))...)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, err = c.Evaluate(context.Background(), assurancehub.Bias, req)
		fmt.Println(err)
		c.CloseIdleConnections()
	}
	// Output:
	// <nil>
	// assurancehub: 401 Unauthorized: Invalid request signature
}
