package assurancehubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/safecheck/safecheck/assurancehub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	benignBody   = `{"prompt":"What is the capital of France?","response":"The capital of France is Paris."}`
	otherTestKey = "ash_test_fedcba9876543210fedcba9876543210"
)

// newServer starts a server that the test closes when it ends.
func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// call is one HTTP request of a test. Zero fields get defaults: POST to
// /v1/evaluate/bias with TestAPIKey as Bearer token and a JSON content type.
type call struct {
	method string
	path   string
	header map[string]string // nil: default headers; empty: no headers
	body   string
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (c call) request(t *testing.T, base string) *http.Request {
	t.Helper()
	req, err := c.newRequest(t.Context(), base)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return req
}

// newRequest is request for goroutines other than the test's own.
func (c call) newRequest(ctx context.Context, base string) (*http.Request, error) {
	method, path := c.method, c.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/v1/evaluate/bias"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	header := c.header
	if header == nil {
		header = map[string]string{"Authorization": "Bearer " + TestAPIKey, "Content-Type": "application/json"}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req, nil
}

// send performs c against the server at base and returns the whole reply.
func send(t *testing.T, client *http.Client, base string, c call) reply {
	t.Helper()
	resp, err := client.Do(c.request(t, base))
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return v
}

// keyPaths returns every member path of a JSON value, like
// "consensus_analysis.calculation[].model".
func keyPaths(v any) []string {
	set := map[string]bool{}
	var walk func(v any, prefix string)
	walk = func(v any, prefix string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				set[p] = true
				walk(e, p)
			}
		case []any:
			for _, e := range x {
				walk(e, prefix+"[]")
			}
		}
	}
	walk(v, "")
	return slices.Sorted(maps.Keys(set))
}

func triggerBody(t *testing.T, term string) string {
	t.Helper()
	b, err := json.Marshal(assurancehub.Request{Prompt: "Please answer.", Response: "Sure. " + term + "."})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var flaggedRisk = map[string]string{
	assurancehub.Bias: "high", assurancehub.HIPAA: "critical", assurancehub.GDPR: "critical",
	assurancehub.Hallucination: "reject", assurancehub.Toxicity: "reject", assurancehub.Robustness: "reject",
	assurancehub.Jailbreak: "reject", assurancehub.Injection: "reject", assurancehub.PII: "reject",
	assurancehub.Copyright: "reject", assurancehub.Misinformation: "reject", assurancehub.ChildSafety: "reject",
}

func TestEvaluateEveryTestType(t *testing.T) {
	s := newServer(t)
	client := s.Client()
	wantKeys := keyPaths(decodeAny(t, readFixture(t, "response-bias-reject.json")))
	lex := DefaultLexicon()

	for _, tt := range assurancehub.TestTypes() {
		for _, c := range []struct {
			name                string
			body                string
			score               float64
			flagged             bool
			riskLevel, passFail string
		}{
			{"flagged", triggerBody(t, lex[tt][0]), 0.85, true, flaggedRisk[tt], "fail"},
			{"benign", benignBody, 0, false, "low", "pass"},
		} {
			t.Run(tt+"/"+c.name, func(t *testing.T) {
				r := send(t, client, s.URL, call{path: "/v1/evaluate/" + tt, body: c.body})
				if r.status != http.StatusOK {
					t.Fatalf("status %d, body %s", r.status, r.body)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if got := keyPaths(decodeAny(t, r.body)); !slices.Equal(got, wantKeys) {
					t.Errorf("key paths differ from the fixture\n got %v\nwant %v", got, wantKeys)
				}
				var res assurancehub.Result
				if err := json.Unmarshal(r.body, &res); err != nil {
					t.Fatalf("decoding into assurancehub.Result: %v", err)
				}
				want := assurancehub.Evaluation{RiskLevel: c.riskLevel, PassFail: c.passFail, Flagged: c.flagged}
				if res.FinalConsensusScore != c.score || res.Evaluation != want {
					t.Errorf("score %v, evaluation %+v; want %v, %+v", res.FinalConsensusScore, res.Evaluation, c.score, want)
				}
				if n := len(res.ConsensusAnalysis.Calculation); n != 3 || res.ConsensusAnalysis.ModelsSucceeded != 3 {
					t.Errorf("%d calculation entries, %d models succeeded; want 3, 3", n, res.ConsensusAnalysis.ModelsSucceeded)
				}
				if string(res.ModelExecution) != `{"execution_mode":"consensus"}` {
					t.Errorf("model_execution %s", res.ModelExecution)
				}
			})
		}
	}
	for _, tt := range assurancehub.TestTypes() {
		if got := s.Requests(tt); got != 2 {
			t.Errorf("Requests(%q) = %d, want 2", tt, got)
		}
	}
}

// TestFixtures checks the answers to the spec's fixture requests against
// the spec's fixture responses.
func TestFixtures(t *testing.T) {
	biasWant := decodeAny(t, readFixture(t, "response-bias-reject.json"))
	// The spec's example says "reject"; for bias this server says "high",
	// which the spec's table lists for bias too.
	biasWant.(map[string]any)["evaluation"].(map[string]any)["risk_level"] = "high"

	tests := []struct {
		name, path string
		body       []byte
		want       any
	}{
		{"bias", "/v1/evaluate/bias", readFixture(t, "request-bias.json"), biasWant},
		{"bias with customer_id", "/v1/evaluate/bias", readFixture(t, "request-with-customer-id.json"), biasWant},
		{"hallucination pass", "/v1/evaluate/hallucination", []byte(benignBody), decodeAny(t, readFixture(t, "response-hallucination-pass.json"))},
	}
	s := newServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, s.Client(), s.URL, call{path: tc.path, body: string(tc.body)})
			if r.status != http.StatusOK {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			if got := decodeAny(t, r.body); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("response differs from fixture\n got %s", r.body)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	const ct = "application/json"
	tests := []struct {
		name   string
		keys   []string // nil: default
		header map[string]string
		want   int
	}{
		{"bearer", nil, map[string]string{"Authorization": "Bearer " + TestAPIKey}, 200},
		{"bearer scheme case-insensitive", nil, map[string]string{"Authorization": "bearer " + TestAPIKey}, 200},
		{"x-api-key", nil, map[string]string{"X-API-Key": TestAPIKey}, 200},
		{"both headers, same key", nil, map[string]string{"Authorization": "Bearer " + TestAPIKey, "X-API-Key": TestAPIKey}, 200},
		{"no key", nil, map[string]string{}, 401},
		{"unknown bearer key", nil, map[string]string{"Authorization": "Bearer " + otherTestKey}, 401},
		{"unknown x-api-key", nil, map[string]string{"X-API-Key": otherTestKey}, 401},
		{"key prefix only", nil, map[string]string{"X-API-Key": TestAPIKey[:len(TestAPIKey)-1]}, 401},
		{"key with suffix", nil, map[string]string{"X-API-Key": TestAPIKey + "0"}, 401},
		{"bearer without token", nil, map[string]string{"Authorization": "Bearer"}, 401},
		{"bearer with empty token", nil, map[string]string{"Authorization": "Bearer  "}, 401},
		{"basic scheme", nil, map[string]string{"Authorization": "Basic " + TestAPIKey}, 401},
		{"raw key in authorization", nil, map[string]string{"Authorization": TestAPIKey}, 401},
		{"empty x-api-key", nil, map[string]string{"X-API-Key": ""}, 401},
		{"both headers, different keys", nil, map[string]string{"Authorization": "Bearer " + TestAPIKey, "X-API-Key": otherTestKey}, 401},
		{"both headers, both valid but different", []string{TestAPIKey, otherTestKey}, map[string]string{"Authorization": "Bearer " + TestAPIKey, "X-API-Key": otherTestKey}, 401},
		{"second configured key", []string{TestAPIKey, otherTestKey}, map[string]string{"X-API-Key": otherTestKey}, 200},
		{"WithAPIKeys replaces the default", []string{otherTestKey}, map[string]string{"Authorization": "Bearer " + TestAPIKey}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.keys != nil {
				opts = append(opts, WithAPIKeys(tc.keys...))
			}
			s := newServer(t, opts...)
			header := map[string]string{"Content-Type": ct}
			maps.Copy(header, tc.header)
			r := send(t, s.Client(), s.URL, call{header: header, body: benignBody})
			if r.status != tc.want {
				t.Fatalf("status %d, want %d (body %s)", r.status, tc.want, r.body)
			}
			if tc.want == 401 {
				if string(r.body) != `{"error":"Invalid API key"}` {
					t.Errorf("body %s", r.body)
				}
				if s.Requests(assurancehub.Bias) != 0 {
					t.Errorf("rejected request was evaluated")
				}
			}
		})
	}
}

func TestAuthenticationRepeatedHeader(t *testing.T) {
	s := newServer(t)
	req := call{body: benignBody}.request(t, s.URL)
	req.Header.Add("Authorization", "Bearer "+TestAPIKey)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("two Authorization headers: status %d, want 401", resp.StatusCode)
	}
}

func TestRejections(t *testing.T) {
	const auth = "Bearer " + TestAPIKey
	tests := []struct {
		name       string
		c          call
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{"unknown test type", call{path: "/v1/evaluate/sarcasm", body: benignBody}, 404, `{"error":"Not found"}`, nil},
		{"dash instead of underscore", call{path: "/v1/evaluate/child-safety", body: benignBody}, 404, `{"error":"Not found"}`, nil},
		{"trailing slash", call{path: "/v1/evaluate/bias/", body: benignBody}, 404, `{"error":"Not found"}`, nil},
		{"no test type", call{path: "/v1/evaluate/", body: benignBody}, 404, `{"error":"Not found"}`, nil},
		{"root", call{path: "/", body: benignBody}, 404, `{"error":"Not found"}`, nil},
		{"upper-case type", call{path: "/v1/evaluate/BIAS", body: benignBody}, 404, `{"error":"Not found"}`, nil},
		{"GET", call{method: http.MethodGet}, 405, `{"error":"Method not allowed"}`, map[string]string{"Allow": "POST"}},
		{"PUT", call{method: http.MethodPut, body: benignBody}, 405, `{"error":"Method not allowed"}`, map[string]string{"Allow": "POST"}},
		{"body over the limit", call{body: `{"prompt":"a","response":"` + strings.Repeat("b", 200) + `"}`}, 413, `{"error":"Request body too large"}`, nil},
		{"text/plain", call{header: map[string]string{"Authorization": auth, "Content-Type": "text/plain"}, body: benignBody}, 415, `{"error":"Content-Type must be application/json"}`, nil},
		{"no content type", call{header: map[string]string{"Authorization": auth}, body: benignBody}, 415, `{"error":"Content-Type must be application/json"}`, nil},
		{"latin-1 JSON", call{header: map[string]string{"Authorization": auth, "Content-Type": "application/json; charset=iso-8859-1"}, body: benignBody}, 415, `{"error":"Content-Type must be application/json"}`, nil},
		{"malformed content type", call{header: map[string]string{"Authorization": auth, "Content-Type": "application/json; ="}, body: benignBody}, 415, `{"error":"Content-Type must be application/json"}`, nil},
		{"json with charset", call{header: map[string]string{"Authorization": auth, "Content-Type": "application/json; charset=UTF-8"}, body: benignBody}, 200, "", nil},
		{"+json type", call{header: map[string]string{"Authorization": auth, "Content-Type": "application/vnd.api+json"}, body: benignBody}, 200, "", nil},
		{"body exactly at the limit", call{body: `{"prompt":"a","response":"` + strings.Repeat("b", 128-28) + `"}`}, 200, "", nil},
	}
	s := newServer(t, WithMaxBodyBytes(128))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, s.Client(), s.URL, tc.c)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", r.status, tc.wantStatus, r.body)
			}
			if tc.wantBody != "" && string(r.body) != tc.wantBody {
				t.Errorf("body %s, want %s", r.body, tc.wantBody)
			}
			if tc.wantBody != "" && r.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			for k, v := range tc.wantHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if got := len(`{"prompt":"a","response":"` + strings.Repeat("b", 128-28) + `"}`); got != 128 {
		t.Fatalf("test bug: at-limit body has %d bytes", got)
	}
}

func TestDefaultBodyLimit(t *testing.T) {
	s := newServer(t)
	pad := func(n int) string {
		b, _ := json.Marshal(assurancehub.Request{Prompt: "p", Response: strings.Repeat("r", n)})
		return string(b)
	}
	overhead := len(pad(0))
	tests := []struct {
		body string
		want int
	}{
		{pad(DefaultMaxBodyBytes - overhead), http.StatusOK},
		{pad(DefaultMaxBodyBytes - overhead + 1), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		if r := send(t, s.Client(), s.URL, call{body: tc.body}); r.status != tc.want {
			t.Errorf("%d-byte body: status %d, want %d", len(tc.body), r.status, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	const canary = "CANARY-7f3a"
	missing := func(f string) string {
		return `{"loc":["body","` + f + `"],"msg":"field required","type":"value_error.missing"}`
	}
	notStr := func(f string) string {
		return `{"loc":["body","` + f + `"],"msg":"str type expected","type":"type_error.str"}`
	}
	tooShort := func(f string) string {
		return `{"loc":["body","` + f + `"],"msg":"ensure this value has at least 1 characters","type":"value_error.any_str.min_length","ctx":{"limit_value":1}}`
	}
	detail := func(items ...string) string { return `{"detail":[` + strings.Join(items, ",") + `]}` }

	tests := []struct {
		name string
		body string
		want string // "" means 200
	}{
		{"empty body", "", detail(`{"loc":["body"],"msg":"field required","type":"value_error.missing"}`)},
		{"white space body", " \n", detail(`{"loc":["body"],"msg":"field required","type":"value_error.missing"}`)},
		{"invalid JSON", `{"prompt":"` + canary, detail(`{"loc":["body"],"msg":"invalid JSON","type":"value_error.jsondecode"}`)},
		{"trailing garbage", benignBody + `x`, detail(`{"loc":["body"],"msg":"invalid JSON","type":"value_error.jsondecode"}`)},
		{"array", `["` + canary + `"]`, detail(`{"loc":["body"],"msg":"value is not a valid dict","type":"type_error.dict"}`)},
		{"string", `"` + canary + `"`, detail(`{"loc":["body"],"msg":"value is not a valid dict","type":"type_error.dict"}`)},
		{"null", `null`, detail(`{"loc":["body"],"msg":"value is not a valid dict","type":"type_error.dict"}`)},
		{"empty object", `{}`, detail(missing("prompt"), missing("response"))},
		{"missing prompt", `{"response":"` + canary + `"}`, detail(missing("prompt"))},
		{"missing response", `{"prompt":"` + canary + `"}`, detail(missing("response"))},
		{"field names are case-sensitive", `{"Prompt":"a","Response":"b"}`, detail(missing("prompt"), missing("response"))},
		{"empty prompt", `{"prompt":"","response":"` + canary + `"}`, detail(tooShort("prompt"))},
		{"empty response", `{"prompt":"` + canary + `","response":""}`, detail(tooShort("response"))},
		{"number prompt", `{"prompt":42,"response":"b"}`, detail(notStr("prompt"))},
		{"object response", `{"prompt":"a","response":{"text":"` + canary + `"}}`, detail(notStr("response"))},
		{"null prompt", `{"prompt":null,"response":"b"}`, detail(`{"loc":["body","prompt"],"msg":"none is not an allowed value","type":"type_error.none.not_allowed"}`)},
		{"number customer_id", `{"prompt":"a","response":"b","customer_id":7}`, detail(notStr("customer_id"))},
		{"all wrong", `{"prompt":1,"response":"","customer_id":[]}`, detail(notStr("prompt"), tooShort("response"), notStr("customer_id"))},
		{"null customer_id", `{"prompt":"a","response":"b","customer_id":null}`, ""},
		{"extra members", `{"prompt":"a","response":"b","model":"x","temperature":0.2}`, ""},
		{"white space prompt", `{"prompt":" ","response":"b"}`, ""},
	}
	s := newServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, s.Client(), s.URL, call{body: tc.body})
			if tc.want == "" {
				if r.status != http.StatusOK {
					t.Fatalf("status %d, want 200 (body %s)", r.status, r.body)
				}
				return
			}
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422 (body %s)", r.status, r.body)
			}
			if string(r.body) != tc.want {
				t.Errorf("body\n got %s\nwant %s", r.body, tc.want)
			}
			if bytes.Contains(r.body, []byte(canary)) {
				t.Errorf("422 body repeats request content: %s", r.body)
			}
		})
	}
}

func TestConstructorValidation(t *testing.T) {
	const secret = "ash_test_secret value"
	tests := []struct {
		name    string
		opts    []Option
		wantErr string
	}{
		{"defaults", nil, ""},
		{"nil option", []Option{nil}, "assurancehubtest: option 1 is nil"},
		{"nil option after another", []Option{WithAddr("127.0.0.1:0"), nil}, "assurancehubtest: option 2 is nil"},
		{"no keys", []Option{WithAPIKeys()}, "at least one key"},
		{"empty key", []Option{WithAPIKeys(TestAPIKey, "")}, "key 1 is empty"},
		{"key with space", []Option{WithAPIKeys(secret)}, "key 0 has a character at byte 15"},
		{"key with newline", []Option{WithAPIKeys("ash_test_x\n")}, "not printable ASCII"},
		{"zero body limit", []Option{WithMaxBodyBytes(0)}, "must be positive"},
		{"negative body limit", []Option{WithMaxBodyBytes(-1)}, "must be positive"},
		{"empty address", []Option{WithAddr("")}, "empty address"},
		{"nil scorer", []Option{WithScorer(nil)}, "nil scorer"},
		{"unknown lexicon type", []Option{WithLexicon("sarcasm", "x")}, `unknown test type "sarcasm"`},
		{"empty lexicon term", []Option{WithLexicon(assurancehub.Toxicity, "idiot", " ")}, "term 1 is empty"},
		{"lexicon without terms", []Option{WithLexicon(assurancehub.Toxicity)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHandler(tc.opts...)
			if tc.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHandler: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewHandler succeeded, want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), TestAPIKey) {
				t.Errorf("error %q contains an API key", err)
			}
			// NewServer reports the same error and starts nothing.
			if s, err := NewServer(tc.opts...); err == nil {
				s.Close()
				t.Errorf("NewServer succeeded with invalid options")
			}
		})
	}
}

func TestWithAddr(t *testing.T) {
	a := newServer(t, WithAddr("127.0.0.1:0"))
	if !strings.HasPrefix(a.URL, "http://127.0.0.1:") || strings.HasSuffix(a.URL, ":0") {
		t.Fatalf("URL %q", a.URL)
	}
	addr := strings.TrimPrefix(a.URL, "http://")
	if r := send(t, a.Client(), a.URL, call{body: benignBody}); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	// The address is taken now, so a second server cannot listen there.
	b, err := NewServer(WithAddr(addr))
	if err == nil {
		b.Close()
		t.Fatalf("second server on %s started", addr)
	}
	if !strings.Contains(err.Error(), "listen on "+addr) {
		t.Errorf("error %q", err)
	}
}

func TestWithLexicon(t *testing.T) {
	s := newServer(t,
		WithLexicon(assurancehub.Toxicity, "Rubber Duck"),
		WithLexicon(assurancehub.PII), // never flags
	)
	tests := []struct {
		testType, response string
		flagged            bool
	}{
		{assurancehub.Toxicity, "You are a RUBBER DUCK.", true},
		{assurancehub.Toxicity, "You idiot.", false}, // default term replaced
		{assurancehub.PII, "Mail me at jo@example.com, SSN 123.", false},
		{assurancehub.Bias, "people past fifty cannot code", true}, // other types keep the defaults
	}
	for _, tc := range tests {
		body, _ := json.Marshal(assurancehub.Request{Prompt: "p", Response: tc.response})
		r := send(t, s.Client(), s.URL, call{path: "/v1/evaluate/" + tc.testType, body: string(body)})
		var res assurancehub.Result
		if err := json.Unmarshal(r.body, &res); err != nil || r.status != 200 {
			t.Fatalf("%s: status %d, %v", tc.testType, r.status, err)
		}
		if res.Evaluation.Flagged != tc.flagged {
			t.Errorf("%s %q: flagged %v, want %v", tc.testType, tc.response, res.Evaluation.Flagged, tc.flagged)
		}
	}
}

func TestWithScorer(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []assurancehub.Request
	)
	scorer := func(testType string, req assurancehub.Request) assurancehub.Result {
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		switch testType {
		case assurancehub.HIPAA:
			return NewResult(testType, 0.72)
		case assurancehub.GDPR:
			return assurancehub.Result{Raw: []byte(`{"final_consensus_score":0.1,"extra":{"thresholds":[0.5]}}`)}
		case assurancehub.PII:
			return assurancehub.Result{FinalConsensusScore: 0.3} // no model_execution
		default:
			return assurancehub.Result{FinalConsensusScore: nan()} // cannot be encoded
		}
	}
	s := newServer(t, WithScorer(scorer), WithLexicon(assurancehub.HIPAA, "never"))

	r := send(t, s.Client(), s.URL, call{path: "/v1/evaluate/hipaa", body: `{"prompt":"p","response":"r","customer_id":"cust_1"}`})
	var res assurancehub.Result
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	if res.FinalConsensusScore != 0.72 || res.Evaluation.RiskLevel != "critical" || !res.Evaluation.Flagged {
		t.Errorf("hipaa: %s", r.body)
	}
	if want := []assurancehub.Request{{Prompt: "p", Response: "r", CustomerID: "cust_1"}}; !slices.Equal(seen, want) {
		t.Errorf("scorer saw %+v, want %+v", seen, want)
	}

	r = send(t, s.Client(), s.URL, call{path: "/v1/evaluate/gdpr", body: benignBody})
	if want := `{"final_consensus_score":0.1,"extra":{"thresholds":[0.5]}}`; r.status != 200 || string(r.body) != want {
		t.Errorf("gdpr: status %d body %s, want Raw verbatim", r.status, r.body)
	}

	r = send(t, s.Client(), s.URL, call{path: "/v1/evaluate/pii", body: benignBody})
	if !bytes.Contains(r.body, []byte(`"model_execution":{"execution_mode":"consensus"}`)) {
		t.Errorf("pii: default model_execution missing: %s", r.body)
	}

	r = send(t, s.Client(), s.URL, call{path: "/v1/evaluate/bias", body: benignBody})
	if r.status != http.StatusInternalServerError || string(r.body) != `{"error":"Internal server error"}` {
		t.Errorf("unencodable result: status %d body %s", r.status, r.body)
	}
	if s.Requests(assurancehub.Bias) != 0 || s.Requests(assurancehub.HIPAA) != 1 {
		t.Errorf("Requests: bias %d hipaa %d, want 0 and 1", s.Requests(assurancehub.Bias), s.Requests(assurancehub.HIPAA))
	}
}

func TestCountersAndReset(t *testing.T) {
	s := newServer(t)
	if _, ok := s.LastRequest(); ok {
		t.Fatal("LastRequest before any request reported ok")
	}
	send(t, s.Client(), s.URL, call{body: benignBody})                              // evaluated
	send(t, s.Client(), s.URL, call{path: "/v1/evaluate/pii", body: benignBody})    // evaluated
	send(t, s.Client(), s.URL, call{path: "/v1/evaluate/pii", body: benignBody})    // evaluated
	send(t, s.Client(), s.URL, call{header: map[string]string{}, body: benignBody}) // 401
	send(t, s.Client(), s.URL, call{path: "/v1/evaluate/nope", body: benignBody})   // 404
	send(t, s.Client(), s.URL, call{body: `{}`})                                    // 422
	s.FailNext(Status(503))
	send(t, s.Client(), s.URL, call{body: benignBody}) // fault

	check := func(when string, bias, pii, total int) {
		t.Helper()
		if got := s.Requests(assurancehub.Bias); got != bias {
			t.Errorf("%s: Requests(bias) = %d, want %d", when, got, bias)
		}
		if got := s.Requests(assurancehub.PII); got != pii {
			t.Errorf("%s: Requests(pii) = %d, want %d", when, got, pii)
		}
		if got := s.Requests("nope"); got != 0 {
			t.Errorf("%s: Requests(nope) = %d", when, got)
		}
		if got := s.TotalRequests(); got != total {
			t.Errorf("%s: TotalRequests = %d, want %d", when, got, total)
		}
	}
	check("before Reset", 1, 2, 7)

	s.FailNext(Status(500), Status(500))
	s.SetLatency(time.Hour)
	s.SetRateLimit(1, "1")
	s.Reset()
	check("after Reset", 0, 0, 0)
	if _, ok := s.LastRequest(); ok {
		t.Error("LastRequest after Reset reported ok")
	}
	if n := s.PendingFaults(); n != 0 {
		t.Errorf("PendingFaults after Reset = %d", n)
	}
	// Latency, rate limit and faults are off again: these answer at once.
	for range 3 {
		if r := send(t, s.Client(), s.URL, call{body: benignBody}); r.status != 200 {
			t.Fatalf("after Reset: status %d", r.status)
		}
	}
	check("after Reset and 3 requests", 3, 0, 3)
}

func TestLastRequest(t *testing.T) {
	s := newServer(t, WithMaxBodyBytes(100))
	send(t, s.Client(), s.URL, call{
		path:   "/v1/evaluate/toxicity",
		header: map[string]string{"X-API-Key": TestAPIKey, "Content-Type": "application/json", "User-Agent": "safecheck-test/1"},
		body:   benignBody,
	})
	got, ok := s.LastRequest()
	if !ok {
		t.Fatal("no last request")
	}
	if got.Method != http.MethodPost || got.Path != "/v1/evaluate/toxicity" || string(got.Body) != benignBody || got.BodyTooLarge {
		t.Errorf("recorded %+v", got)
	}
	if got.Header.Get("X-API-Key") != TestAPIKey || got.Header.Get("User-Agent") != "safecheck-test/1" {
		t.Errorf("recorded headers %v", got.Header)
	}

	// The result is a copy.
	got.Header.Set("User-Agent", "changed")
	got.Body[0] = 'X'
	again, _ := s.LastRequest()
	if again.Header.Get("User-Agent") != "safecheck-test/1" || again.Body[0] != '{' {
		t.Error("LastRequest returned shared state")
	}

	// A too-large body is recorded up to the limit; a GET without body too.
	long := `{"prompt":"` + strings.Repeat("p", 200) + `"}`
	send(t, s.Client(), s.URL, call{body: long})
	got, _ = s.LastRequest()
	if !got.BodyTooLarge || string(got.Body) != long[:100] {
		t.Errorf("too-large body recorded as %q (too large: %v)", got.Body, got.BodyTooLarge)
	}
	send(t, s.Client(), s.URL, call{method: http.MethodGet, path: "/health"})
	got, _ = s.LastRequest()
	if got.Method != http.MethodGet || got.Path != "/health" || len(got.Body) != 0 {
		t.Errorf("GET recorded as %+v", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := newServer(t)
	client := s.Client()
	types := assurancehub.TestTypes()
	const workers, perWorker = 6, 24

	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				tt := types[(w+i)%len(types)]
				req, err := call{path: "/v1/evaluate/" + tt, body: benignBody}.newRequest(t.Context(), s.URL)
				if err != nil {
					errs <- err
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- errors.New(resp.Status)
				}
			}
		})
	}
	// Reconfigure and read while requests are in flight.
	wg.Go(func() {
		for range 50 {
			s.FailNext(Fault{}) // lets one request through unchanged
			s.SetLatency(0)
			s.SetRateLimit(0, "")
			_ = s.Requests(assurancehub.Bias)
			_ = s.TotalRequests()
			_, _ = s.LastRequest()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	total := 0
	for _, tt := range types {
		total += s.Requests(tt)
		if got, want := s.Requests(tt), workers*perWorker/len(types); got != want {
			t.Errorf("Requests(%q) = %d, want %d", tt, got, want)
		}
	}
	if total != workers*perWorker || s.TotalRequests() != workers*perWorker {
		t.Errorf("evaluated %d, total %d, want %d", total, s.TotalRequests(), workers*perWorker)
	}
}

func TestHandlerOnOwnMux(t *testing.T) {
	h, err := NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/fake/", http.StripPrefix("/fake", h))
	s := httptestServer(t, mux)
	r := send(t, s.Client(), s.URL+"/fake", call{body: string(readFixture(t, "request-bias.json"))})
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"flagged":true`)) {
		t.Errorf("status %d body %s", r.status, r.body)
	}
	if h.Requests(assurancehub.Bias) != 1 {
		t.Errorf("Requests(bias) = %d", h.Requests(assurancehub.Bias))
	}
}

// TestCloseAbortsWaitingRequests checks that Close does not wait for the
// latency of requests in flight.
func TestCloseAbortsWaitingRequests(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.SetLatency(time.Hour)
	client := s.Client()
	req := call{body: benignBody}.request(t, s.URL)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			err = errors.New("got an answer: " + resp.Status)
		}
		errc <- err
	}()
	waitFor(t, "the request to arrive", func() bool { return s.TotalRequests() == 1 })

	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close is waiting for the latency")
	}
	if err := <-errc; err == nil || strings.Contains(err.Error(), "got an answer") {
		t.Errorf("client: %v, want a transport error", err)
	}
	if s.Requests(assurancehub.Bias) != 0 {
		t.Error("aborted request counted as evaluated")
	}
	s.Close() // a second Close has no effect
}

// waitFor polls cond, for events that happen on real sockets outside any
// synctest bubble.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
