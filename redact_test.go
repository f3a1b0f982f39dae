package safecheck

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
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
	)
	out := buf.String()
	for _, canary := range []string{canaryPrompt, canaryResponse, canaryKey, "alice@example.com"} {
		if strings.Contains(out, canary) {
			t.Errorf("output contains %q: %s", canary, out)
		}
	}
	for _, want := range []string{`"ok":"kept"`, redacted, `"customer_id":"hmac:`} {
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
		{"5550109999", true},
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
