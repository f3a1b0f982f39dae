package safecheck

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// steps returns a random source that walks 0, 1/n, 2/n, ... so that a rate
// r samples exactly r·n of every n requests.
func steps(n int) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := float64(i%n) / float64(n)
		i++
		return v
	}
}

func TestSampleRates(t *testing.T) {
	tests := []struct {
		rate float64
		want uint64
	}{
		{0, 0}, {0.1, 10}, {0.25, 25}, {0.5, 50}, {1, 100},
	}
	for _, tc := range tests {
		g := newGuard(t, &recorder{}, WithLogger(discardLogger()), withRandom(steps(100)))
		rt := mustRoute(t, g, "r", WithSampleRate(tc.rate), WithTestTypes("toxicity"))
		h := rt.Wrap(answer("ok"))
		for range 100 {
			serve(h, "q")
		}
		closeGuard(t, g)
		s := g.Stats()
		if s.Sampled != tc.want || s.Routes[0].Requests != 100 {
			t.Errorf("rate %v: sampled %d of %d, want %d", tc.rate, s.Sampled, s.Routes[0].Requests, tc.want)
		}
	}
}

func TestSetSampleRateAtRuntime(t *testing.T) {
	buf := &syncBuffer{}
	g := newGuard(t, &recorder{}, WithLogger(jsonLogger(buf)), withRandom(steps(10)))
	h := mustRoute(t, g, "chat", WithSampleRate(0), WithTestTypes("toxicity")).Wrap(answer("ok"))
	for range 10 {
		serve(h, "q")
	}
	if err := g.SetSampleRate(context.Background(), "chat", 0.5); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		serve(h, "q")
	}
	for _, bad := range []float64{-0.01, 1.01} {
		if err := g.SetSampleRate(context.Background(), "chat", bad); err == nil {
			t.Errorf("SetSampleRate(%v) succeeded", bad)
		}
	}
	if err := g.SetSampleRate(context.Background(), "nope", 0.5); err == nil {
		t.Error("SetSampleRate on an unknown route succeeded")
	}
	closeGuard(t, g)
	if s := g.Stats(); s.Sampled != 5 || s.Routes[0].SampleRate != 0.5 {
		t.Errorf("sampled %d rate %v, want 5 and 0.5", s.Sampled, s.Routes[0].SampleRate)
	}
	if n := strings.Count(buf.String(), `"msg":"sample rate changed"`); n != 1 {
		t.Errorf("rate change audit records = %d, want 1", n)
	}
}

func TestIncidentSamplesEverythingThenReverts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := &syncBuffer{}
		g, err := New(&recorder{}, WithLogger(jsonLogger(buf)))
		if err != nil {
			t.Fatal(err)
		}
		chat := mustRoute(t, g, "chat", WithSampleRate(0), WithTestTypes("toxicity"))
		other := mustRoute(t, g, "other", WithSampleRate(0), WithTestTypes("toxicity"))
		hc, ho := chat.Wrap(answer("ok")), other.Wrap(answer("ok"))
		round := func() {
			for range 4 {
				serve(hc, "q")
				serve(ho, "q")
			}
		}
		round() // nothing sampled
		if err := g.StartIncident(context.Background(), "bad deploy #123", 10*time.Minute, "chat"); err != nil {
			t.Fatal(err)
		}
		s := g.Stats()
		if s.Incident == nil || s.Routes[0].EffectiveRate != 1 || s.Routes[1].EffectiveRate != 0 {
			t.Fatalf("during the incident: %+v", s.Routes)
		}
		round() // chat: 4 sampled
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		round() // reverted: nothing sampled
		s = g.Stats()
		if s.Incident != nil || s.Routes[0].EffectiveRate != 0 {
			t.Errorf("after expiry: incident %v, effective rate %v", s.Incident, s.Routes[0].EffectiveRate)
		}
		if s.Routes[0].Sampled != 4 || s.Routes[1].Sampled != 0 {
			t.Errorf("sampled chat %d other %d, want 4 and 0", s.Routes[0].Sampled, s.Routes[1].Sampled)
		}

		// An incident over every route, ended by hand.
		if err := g.StartIncident(context.Background(), "all hands", time.Hour); err != nil {
			t.Fatal(err)
		}
		round()
		if err := g.EndIncident(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := g.EndIncident(context.Background()); err != ErrNoIncident {
			t.Errorf("second EndIncident = %v, want ErrNoIncident", err)
		}
		round()
		if err := g.StartIncident(context.Background(), "left open", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := g.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s = g.Stats()
		if s.Incident != nil || s.Routes[0].EffectiveRate != 0 {
			t.Errorf("after Close the incident is still reported: %+v", s.Incident)
		}
		if s.Routes[0].Sampled != 8 || s.Routes[1].Sampled != 4 {
			t.Errorf("sampled chat %d other %d, want 8 and 4", s.Routes[0].Sampled, s.Routes[1].Sampled)
		}
		out := buf.String()
		for msg, want := range map[string]int{
			`"msg":"incident started"`: 3, `"msg":"incident expired"`: 1, `"msg":"incident ended"`: 2,
		} {
			if n := strings.Count(out, msg); n != want {
				t.Errorf("%s logged %d times, want %d", msg, n, want)
			}
		}
	})
}

func TestStartIncidentValidates(t *testing.T) {
	g := newGuard(t, &recorder{}, WithLogger(discardLogger()))
	for _, tc := range []struct {
		reason string
		d      time.Duration
		routes []string
	}{
		{"", time.Minute, nil},
		{"x", 0, nil},
		{"x", -time.Minute, nil},
		{"x", time.Minute, []string{""}},
	} {
		if err := g.StartIncident(context.Background(), tc.reason, tc.d, tc.routes...); err == nil {
			t.Errorf("StartIncident(%q, %s, %q) succeeded", tc.reason, tc.d, tc.routes)
		}
	}
}
