package coord_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck/coord"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("coord-test-secret-0123456789")

func TestNamesRoundTrip(t *testing.T) {
	for _, m := range []coord.Mode{coord.Off, coord.Shared, coord.Degraded} {
		b, _ := m.MarshalText()
		var back coord.Mode
		if err := back.UnmarshalText(b); err != nil || back != m {
			t.Errorf("mode %v: %s -> %v, %v", m, b, back, err)
		}
	}
	for _, k := range []coord.Kind{coord.KindIncident, coord.KindRate, coord.KindPause, coord.KindEscalation} {
		b, _ := k.MarshalText()
		var back coord.Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("kind %v: %s -> %v, %v", k, b, back, err)
		}
	}
	var k coord.Kind
	if err := k.UnmarshalText([]byte("nope")); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown kind: %v", err)
	}
	var m coord.Mode
	if err := m.UnmarshalText([]byte("")); err == nil {
		t.Error("an empty mode was accepted")
	}
	if s := coord.Mode(9).String(); s != "Mode(9)" {
		t.Errorf("Mode(9) = %q", s)
	}
	b, _ := json.Marshal(coord.Change{Kind: coord.KindRate, At: time.Unix(0, 0).UTC(), Route: "chat", Rate: 0.5})
	if !strings.Contains(string(b), `"kind":"rate"`) {
		t.Errorf("a change encodes as %s", b)
	}
}

// TestKeyIsKeyedAndUnambiguous: the key depends on the secret, and moving
// bytes between the fields changes it.
func TestKeyIsKeyedAndUnambiguous(t *testing.T) {
	k := coord.Key(secret, "toxicity", "ab", "c")
	for _, other := range []string{
		coord.Key([]byte("another-secret-0123456789"), "toxicity", "ab", "c"),
		coord.Key(secret, "toxicity", "a", "bc"),
		coord.Key(secret, "toxicityab", "", "c"),
	} {
		if other == k {
			t.Errorf("two inputs share the key %s", k)
		}
	}
	if len(k) != 64 {
		t.Errorf("key %q is not 32 bytes in hex", k)
	}
}

func TestNewLocalRefusesAShortSecret(t *testing.T) {
	if _, err := coord.NewLocal([]byte("short")); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("NewLocal(short) = %v", err)
	}
}

// TestLocalSharesChangesBudgetAndCache: a change published by one replica
// reaches the others (and a replica that starts later), never its author;
// the budget is one call per minute/rate for all; verdicts expire.
func TestLocalSharesChangesBudgetAndCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := coord.NewLocal(secret)
		if err != nil {
			t.Fatal(err)
		}
		got := make([][]coord.Change, 3)
		var reps []coord.Coordinator
		for i := range 2 {
			r := l.Replica()
			if err := r.Start(coord.Member{RatePerMinute: 60, Apply: func(c coord.Change) { got[i] = append(got[i], c) }}); err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			reps = append(reps, r)
		}
		now := time.Now()
		reps[0].Publish(coord.Change{Kind: coord.KindRate, At: now, Route: "chat", Rate: 0.5})
		reps[0].Publish(coord.Change{Kind: coord.KindRate, At: now.Add(-time.Second), Route: "chat", Rate: 0.9}) // older: ignored
		synctest.Wait()
		if len(got[0]) != 0 || len(got[1]) != 1 || got[1][0].Rate != 0.5 || got[1][0].Origin == "" {
			t.Errorf("delivered %v and %v", got[0], got[1])
		}
		late := l.Replica()
		if err := late.Start(coord.Member{Apply: func(c coord.Change) { got[2] = append(got[2], c) }}); err != nil {
			t.Fatal(err)
		}
		defer late.Close()
		synctest.Wait()
		if len(got[2]) != 1 {
			t.Errorf("the late replica got %v", got[2])
		}
		if err := late.Start(coord.Member{Apply: func(coord.Change) {}}); err == nil {
			t.Error("a second Start succeeded")
		}

		ctx := context.Background()
		allowed := 0
		for range 3 {
			for _, r := range reps {
				if p, _ := r.Reserve(ctx); p.Allowed {
					allowed++
				} else if p.RetryAfter <= 0 || p.RetryAfter > time.Second {
					t.Errorf("retry after %s", p.RetryAfter)
				}
			}
		}
		if allowed != 1 {
			t.Errorf("%d calls allowed at once on 60/min, want 1", allowed)
		}
		time.Sleep(time.Second)
		if p, _ := reps[1].Reserve(ctx); !p.Allowed {
			t.Error("no call allowed a second later")
		}

		key := reps[0].VerdictKey("toxicity", "p", "r")
		reps[0].Store(ctx, key, coord.Verdict{Flagged: true, Score: 0.9}, time.Minute)
		if v, ok := reps[1].Lookup(ctx, key); !ok || !v.Flagged {
			t.Errorf("lookup on the other replica: %v %v", v, ok)
		}
		time.Sleep(time.Minute)
		if _, ok := reps[1].Lookup(ctx, key); ok {
			t.Error("a verdict outlived its TTL")
		}
		if s := reps[0].Status(); s.Mode != coord.Shared {
			t.Errorf("status %+v", s)
		}
	})
}
