package safecheck

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safecheck/safecheck/failure"
	"github.com/safecheck/safecheck/scrub"
)

const (
	canaryPrompt   = "CANARY-PROMPT-7f3a9c"
	canaryResponse = "CANARY-RESPONSE-2b8e41"
	canaryKey      = "ash_test_CANARYKEY0123456789abcdef012345"
)

func TestRedactDropsContentAndScrubsKeys(t *testing.T) {
	buf := &syncBuffer{}
	r := &redactor{customerKey: []byte("k")}
	log := newLogger(&config{logger: jsonLogger(buf)}, r)
	log = log.With(slog.String("prompt", canaryPrompt), slog.Group("req", slog.String("body", canaryResponse)))
	log.WithGroup("g").Info("message with key "+canaryKey,
		slog.String("response", canaryResponse),
		slog.String("Content", canaryResponse),
		slog.Group("nested", slog.String("text", canaryPrompt), slog.String("ok", "kept")),
		slog.Any("err", errors.New("failed with Bearer "+canaryKey)),
		slog.String("note", "key="+canaryKey),
		slog.Any("raw", []byte(canaryPrompt)),
		slog.String("customer_id", "alice@example.com"),
		slog.Any("routes", []string{"chat", "key " + canaryKey}),
	)
	out := buf.String()
	for _, canary := range []string{canaryPrompt, canaryResponse, canaryKey, "alice@example.com"} {
		if strings.Contains(out, canary) {
			t.Errorf("output contains %q: %s", canary, out)
		}
	}
	for _, want := range []string{`"ok":"kept"`, redacted, `"customer_id":"hmac:`, `"routes":["chat","key [REDACTED]"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s: %s", want, out)
		}
	}
}

func TestCustomerIDHashing(t *testing.T) {
	r := &redactor{customerKey: []byte("k")}
	tests := []struct {
		id     string
		hashed bool
	}{
		{"cust_789", false},
		{"tenant-42", false},
		{"alice@example.com", true},
		{"+1 (555) 010-9999", true},
		{"5550109999", false}, // a plain digit run, not clearly a phone number
		{"", false},
	}
	for _, tc := range tests {
		got := r.customerID(tc.id)
		if hashed := got != tc.id; hashed != tc.hashed {
			t.Errorf("customerID(%q) = %q, hashed %v, want %v", tc.id, got, hashed, tc.hashed)
		}
		if tc.hashed && got != r.customerID(tc.id) {
			t.Errorf("customerID(%q) is not stable", tc.id)
		}
	}
}

// TestCustomerIDHashesOnlyEmailsAndPhones checks that only ids that are
// clearly an e-mail address or a phone number are hashed: numeric customer
// ids, dates and digit runs stay as they are, so records can be joined to
// customers.
func TestCustomerIDHashesOnlyEmailsAndPhones(t *testing.T) {
	r := &redactor{customerKey: []byte("k")}
	tests := []struct {
		id     string
		hashed bool
	}{
		{"10000001", false},
		{"2024-01-15", false},
		{"cust-12345678", false},
		{"00012345", false},
		{"5550109999", false},
		{"12345678901", false},
		{"2024.01.15 10:30", false},
		{"+44 20 7946 0958", true},
		{"+15550109999", true},
		{"(555) 010-9999", true},
		{"555-010-9999", true},
		{"555.010.9999", true},
		{"020 7946 0958", true},
		{"a@b.example", true},
	}
	for _, tc := range tests {
		if got := r.customerID(tc.id); (got != tc.id) != tc.hashed {
			t.Errorf("customerID(%q) = %q, want hashed %v", tc.id, got, tc.hashed)
		}
	}
}

// TestCustomerIDHashingAgreesWithScrub runs each id through the redactor's
// check and through Scrub: an id is hashed exactly when Scrub replaces it
// whole with the e-mail or the phone mask.
func TestCustomerIDHashingAgreesWithScrub(t *testing.T) {
	r := &redactor{customerKey: []byte("k")}
	for _, id := range []string{
		"10000001", "2024-01-15", "cust-12345678", "00012345", "5550109999", "tel:5550109999",
		"12345678901", "192.168.100.200", "3.14159265358", "cust_789", "tenant-42", "",
		"+44 20 7946 0958", "+1 (555) 010-9999", "+49 (30) 1234567", "+15550109999", "+1234567",
		"(555) 010-9999", "555-010-9999", "555.010.9999", "555 010 9999", "020 7946 0958",
		"a@b.example", "alice@example.com", "jane.doe+news@example.co.uk", "user@localhost", "a@b",
		"555-010-9999 ext 2",
	} {
		hashed := r.customerID(id) != id
		out := scrub.Text(id)
		whole := out == scrub.MaskEmail || out == scrub.MaskPhone
		if hashed != whole {
			t.Errorf("%q: redactor hashes it %v, Scrub gives %q", id, hashed, out)
		}
	}
}

type failingHandler struct{ slog.Handler }

func (failingHandler) Handle(context.Context, slog.Record) error { return errors.New("sink down") }

type panickingHandler struct{ slog.Handler }

func (panickingHandler) Handle(context.Context, slog.Record) error { panic("sink bug") }

func TestFailingSinkNeverStopsTheOthers(t *testing.T) {
	buf := &syncBuffer{}
	good := slog.NewJSONHandler(buf, nil)
	log := newLogger(&config{handlers: []slog.Handler{
		failingHandler{good}, panickingHandler{good}, good,
	}}, &redactor{})
	log.Info("still delivered")
	if !strings.Contains(buf.String(), "still delivered") {
		t.Errorf("the healthy sink got nothing: %q", buf.String())
	}
}

// soleSinkPanics is a sink that panics on every record and binds
// attributes to itself, as a correct handler does: every record reaches
// its Handle.
type soleSinkPanics struct{ records *atomic.Int64 }

func (soleSinkPanics) Enabled(context.Context, slog.Level) bool { return true }
func (h soleSinkPanics) Handle(context.Context, slog.Record) error {
	h.records.Add(1)
	panic("sink bug")
}
func (h soleSinkPanics) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h soleSinkPanics) WithGroup(string) slog.Handler      { return h }

// TestPanickingSoleSinkNeverStopsTheGuard gives the Guard one log sink,
// which panics: slog-multi's fan-out hands records to a sole sink directly,
// so only the Guard's own containment keeps the worker (and the process)
// alive. Every sample is still checked.
func TestPanickingSoleSinkNeverStopsTheGuard(t *testing.T) {
	var records atomic.Int64
	g := newGuard(t, instant, WithLogger(slog.New(soleSinkPanics{&records})))
	h := mustRoute(t, g, "r", WithSampleRate(1), WithTestTypes("toxicity", "pii")).Wrap(answer("fine"))
	for i := range 3 {
		if w := serve(h, fmt.Sprintf("question %d", i)); w.Body.String() != "fine" {
			t.Fatalf("request %d: body %q", i, w.Body)
		}
	}
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := g.Stats()
	if s.Checked != 3 {
		t.Errorf("checked %d of 3 samples", s.Checked)
	}
	if n := records.Load(); n < 6 {
		t.Errorf("the sink was handed %d records, want at least the 6 verdicts", n)
	}
	checkAccounting(t, s)
}

// customerIDInLog runs one sampled request for customer id through a new
// Guard built with opts and returns the customer_id of its verdict record.
func customerIDInLog(t *testing.T, id string, opts ...Option) string {
	t.Helper()
	buf := &syncBuffer{}
	g := newGuard(t, &recorder{}, append([]Option{WithLogger(jsonLogger(buf))}, opts...)...)
	h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity"),
		WithCustomerID(func(*http.Request) string { return id })).Wrap(answer("fine"))
	serve(h, "hello")
	closeGuard(t, g)
	for _, line := range strings.Split(buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "safecheck verdict" {
			s, _ := rec["customer_id"].(string)
			return s
		}
	}
	t.Fatalf("no verdict record:\n%s", buf.String())
	return ""
}

func TestCustomerIDOptions(t *testing.T) {
	key := []byte("a shared customer id hash key")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("alice@example.com"))
	keyed := "hmac:" + hex.EncodeToString(mac.Sum(nil)[:12])

	tests := []struct {
		name string
		id   string
		opts []Option
		want string // "random" means hashed with an unknown key
	}{
		{"email hashed with a random key by default", "alice@example.com", nil, "random"},
		{"phone hashed with a random key by default", "+1 555 010 9999", nil, "random"},
		{"plain id kept", "cust_789", nil, "cust_789"},
		{"email hashed with the given key", "alice@example.com", []Option{WithCustomerIDHashKey(key)}, keyed},
		{"plain id kept with a key", "tenant-42", []Option{WithCustomerIDHashKey(key)}, "tenant-42"},
		{"raw ids", "alice@example.com", []Option{WithRawCustomerIDs()}, "alice@example.com"},
		{"secrets are masked even in raw ids", "ash_test_CANARYKEY0123", []Option{WithRawCustomerIDs()}, redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := customerIDInLog(t, tt.id, tt.opts...)
			if tt.want != "random" {
				if got != tt.want {
					t.Errorf("customer_id = %q, want %q", got, tt.want)
				}
				return
			}
			if !strings.HasPrefix(got, "hmac:") || got == keyed || strings.Contains(got, tt.id) {
				t.Errorf("customer_id = %q, want a hash under a random key", got)
			}
			// A random key per Guard: the same id hashes differently after a restart.
			if again := customerIDInLog(t, tt.id, tt.opts...); again == got {
				t.Errorf("two Guards hashed %q alike (%s) without a shared key", tt.id, got)
			}
		})
	}
	if customerIDInLog(t, "alice@example.com", WithCustomerIDHashKey(key)) != keyed {
		t.Error("a shared key does not give the same hash in another Guard")
	}
}

func TestCustomerIDOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"short key", []Option{WithCustomerIDHashKey([]byte("CANARY-short"))}, "at least 16 bytes"},
		{"no key", []Option{WithCustomerIDHashKey(nil)}, "at least 16 bytes"},
		{"raw and key", []Option{WithRawCustomerIDs(), WithCustomerIDHashKey([]byte("CANARY-long-enough-key"))}, "cannot be combined"},
	} {
		g, err := New(&recorder{}, append([]Option{WithLogger(discardLogger())}, tc.opts...)...)
		if err == nil {
			g.Close(context.Background())
			t.Errorf("%s: New succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "CANARY") {
			t.Errorf("%s: err = %q, want it to say %q without the key", tc.name, err, tc.want)
		}
	}
	// The key is copied: changing the caller's slice later changes nothing.
	key := []byte("a shared customer id hash key")
	opt := WithCustomerIDHashKey(key)
	before := customerIDInLog(t, "bob@example.com", opt)
	key[0] = 'X'
	if after := customerIDInLog(t, "bob@example.com", opt); after != before {
		t.Errorf("hash changed with the caller's slice: %s then %s", before, after)
	}
}

// TestOwnKeysAreNeverContentKeys guards the redactor's shortcut: a key it
// keeps without a lookup is lower case and not a content key.
func TestOwnKeysAreNeverContentKeys(t *testing.T) {
	for _, k := range []string{"request_id", "route", "test_type", "response_time_ms", "customer_id", "flagged", "score",
		"risk_level", "cached", "partial", "truncated", "error_class", "status", "attempts", "service"} {
		if !ownKey(k) || contentKeys[k] || strings.ToLower(k) != k {
			t.Errorf("%q: own %v, content %v", k, ownKey(k), contentKeys[k])
		}
	}
	for k := range contentKeys {
		if ownKey(k) {
			t.Errorf("content key %q is taken as the Guard's own", k)
		}
	}
}

// TestVerdictRecordsAsTheRedactorWrites checks that verdict records, which
// skip the redactor's walk because their attributes are redacted when they
// are made, reach the sink exactly as the same record passed through the
// redactor does: secrets in every string masked, PII-shaped customer ids
// hashed, for verdicts and failures.
func TestVerdictRecordsAsTheRedactorWrites(t *testing.T) {
	secret := canaryKey
	tests := []struct {
		name string
		o    Outcome
	}{
		{"plain", Outcome{Route: "chat", RequestID: "req-1", CustomerID: "42", TestType: "toxicity",
			Verdict: Verdict{Score: 0.25, RiskLevel: "low"}, Duration: 3 * time.Millisecond}},
		{"flagged, partial, truncated, outbound", Outcome{Route: "chat", RequestID: "req-2", TestType: "pii",
			Verdict: Verdict{Flagged: true, Score: 0.9, RiskLevel: "reject"}, Partial: true, Truncated: true, Outbound: true, Cached: true}},
		{"secrets everywhere", Outcome{Route: "r " + secret, RequestID: "id " + secret, CustomerID: "Bearer abc.def",
			TestType: "t " + secret, Verdict: Verdict{RiskLevel: "risk " + secret}}},
		{"e-mail customer id", Outcome{Route: "chat", RequestID: "req-3", CustomerID: "someone@example.com", TestType: "toxicity"}},
		{"failure", Outcome{Route: "chat " + secret, RequestID: "req-4", CustomerID: "+1 415 555 0100", TestType: "toxicity",
			Attempts: 3, Err: &CheckError{Class: failure.Server, Status: 503}}},
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want syncBuffer
			g := newGuard(t, instant, WithLogger(jsonLogger(&got)), WithCustomerIDHashKey([]byte("0123456789abcdef")))
			o := tt.o
			g.logOutcome(&o, g.bindRecords(o.Route, []string{o.TestType}).sink(&o, 0), at, new(recordIDs))

			// The same record, raw, through the redactor.
			ref := newGuard(t, instant, WithLogger(jsonLogger(&want)), WithCustomerIDHashKey([]byte("0123456789abcdef")))
			attrs := []slog.Attr{
				// route, test_type and direction first, then flagged and
				// cached: each route binds them to its record sinks
				// (routeRecords).
				slog.String("route", o.Route), slog.String("test_type", o.TestType), slog.String("direction", direction(o.Outbound)),
				slog.String("request_id", o.RequestID), slog.Int64("response_time_ms", o.Duration.Milliseconds()),
				slog.String("customer_id", o.CustomerID),
			}
			level, msg := slog.LevelInfo, "safecheck verdict"
			if o.Err != nil {
				ce := classify(o.Err)
				level, msg = slog.LevelError, "safecheck check failed"
				attrs = append(attrs, slog.String("error_class", ce.Class.String()), slog.Int("status", ce.Status), slog.Int("attempts", o.Attempts))
			} else {
				if o.Verdict.Flagged {
					level, msg = slog.LevelWarn, "safecheck verdict: flagged"
				}
				attrs = append(attrs[:3:3], append([]slog.Attr{slog.Bool("flagged", o.Verdict.Flagged), slog.Bool("cached", o.Cached)}, attrs[3:]...)...)
				attrs = append(attrs, slog.Float64("score", o.Verdict.Score), slog.String("risk_level", o.Verdict.RiskLevel))
				if o.Partial {
					attrs = append(attrs, slog.Bool("partial", true))
				}
				if o.Truncated {
					attrs = append(attrs, slog.Bool("truncated", true))
				}
			}
			rec := slog.NewRecord(at, level, msg, 0)
			rec.AddAttrs(attrs...)
			if err := ref.log.Handler().Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("verdict record\n got %s\nwant %s", got.String(), want.String())
			}
			if strings.Contains(got.String(), secret) || strings.Contains(got.String(), "someone@example.com") {
				t.Errorf("a secret or an e-mail reached the sink: %s", got.String())
			}
		})
	}
}
