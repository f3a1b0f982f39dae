package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		name := k.String()
		if name == "" || seen[name] || !k.Valid() {
			t.Errorf("kind %d: name %q (valid %v) is empty, repeated or invalid", k, name, k.Valid())
		}
		seen[name] = true
		var back Kind
		if err := back.UnmarshalText([]byte(name)); err != nil || back != k {
			t.Errorf("UnmarshalText(%q) = %v, %v", name, back, err)
		}
	}
	for _, k := range []Kind{0, numKinds, 255} {
		if k.Valid() || k.String() != "" {
			t.Errorf("Kind(%d) is valid or named", k)
		}
		if _, err := k.MarshalText(); err == nil {
			t.Errorf("Kind(%d).MarshalText: no error", k)
		}
	}
}

func TestEventJSONLeavesOutWhatDoesNotApply(t *testing.T) {
	e := Event{ID: "evt_1", Kind: Flagged, Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Route: "chat", TestType: "toxicity", Flagged: true, Score: 0.9, RiskLevel: "high"}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	want := `{"id":"evt_1","type":"verdict.flagged","timestamp":"2026-12-01T00:00:00Z","route":"chat","test_type":"toxicity","flagged":true,"score":0.9,"risk_level":"high"}`
	if got != want {
		t.Fatalf("json\n got %s\nwant %s", got, want)
	}
	if strings.Contains(got, "until") || strings.Contains(got, "rule") {
		t.Fatal("fields of other kinds were written")
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back != e {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}
