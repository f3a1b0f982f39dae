package safecheckredis

import (
	"strings"
	"testing"
	"time"

	"github.com/safecheck/safecheck/coord"
)

// FuzzDecode: a shared change read from Redis or a message is decoded or
// refused, never a panic; what decodes encodes back to an equal change.
func FuzzDecode(f *testing.F) {
	for _, ch := range []coord.Change{
		{Kind: coord.KindIncident, At: time.Unix(1700000000, 5), Origin: "a", Incident: &coord.Incident{Reason: "r", Routes: []string{"chat"}, Start: time.Unix(1700000000, 0), Until: time.Unix(1700003600, 0)}},
		{Kind: coord.KindIncident, At: time.Unix(1700000001, 0), Origin: "b"},
		{Kind: coord.KindRate, At: time.Unix(1700000002, 0), Route: "chat", Rate: 0.5},
		{Kind: coord.KindPause, At: time.Unix(1700000003, 0), Until: time.Unix(1700000005, 0)},
		{Kind: coord.KindEscalation, At: time.Unix(1700000004, 0), Origin: "c", Escalation: &coord.Escalation{Customer: "cust_42", Route: "chat", Since: time.Unix(1700000004, 0), Until: time.Unix(1700003604, 0)}},
		{Kind: coord.KindEscalation, At: time.Unix(1700000005, 0), Escalation: &coord.Escalation{Customer: "cust_42", Until: time.Unix(1700003604, 0), Ended: true}},
	} {
		s, err := encode(ch)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add("")
	f.Add("00000000000000000001{}")
	f.Add(`00000000000000000001{"kind":"nope","at":"2024-01-01T00:00:00Z"}`)
	f.Add(`00000000000000000001{"kind":"escalation","at":"1970-01-01T00:00:00.000000001Z"}`)
	f.Add(`00000000000000000001{"kind":"escalation","at":"1970-01-01T00:00:00.000000001Z","escalation":{"customer":"","until":"2024-01-01T00:00:00Z"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		ch, err := decode(s)
		if err != nil {
			return
		}
		again, err := encode(ch)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", ch, err)
		}
		back, err := decode(again)
		if err != nil || back.Subject() != ch.Subject() || !back.At.Equal(ch.At) {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}

// TestDecodeRefusesAnEscalationWithoutCustomerOrEnd: an escalation change
// must name its customer and its end; each missing one is a clear error.
func TestDecodeRefusesAnEscalationWithoutCustomerOrEnd(t *testing.T) {
	at := time.Unix(1700000004, 0)
	for name, e := range map[string]*coord.Escalation{
		"no escalation": nil,
		"no customer":   {Until: at.Add(time.Hour)},
		"no end":        {Customer: "cust_42"},
	} {
		s, err := encode(coord.Change{Kind: coord.KindEscalation, At: at, Escalation: e})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decode(s); err == nil || !strings.Contains(err.Error(), "without its customer or its end") {
			t.Errorf("%s: decode = %v", name, err)
		}
	}
	good := coord.Change{Kind: coord.KindEscalation, At: at, Escalation: &coord.Escalation{Customer: "cust_42", Until: at.Add(time.Hour)}}
	s, _ := encode(good)
	if ch, err := decode(s); err != nil || ch.Subject() != "escalation:cust_42" {
		t.Errorf("a good escalation: %+v, %v", ch, err)
	}
}
