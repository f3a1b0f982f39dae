package safecheckredis

import (
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
