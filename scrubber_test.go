package safecheck

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/safecheck/safecheck/drop"
	"github.com/safecheck/safecheck/failure"

	"github.com/safecheck/safecheck/scrub"
)

func TestScrubberOption(t *testing.T) {
	const prompt = `{"model":"m","messages":[{"role":"user","content":"I am jane@example.com, card 4111 1111 1111 1111"}]}`
	const reply = `Noted, I will call +1 555 010 9999.`
	tests := []struct {
		name           string
		opts           []Option
		prompt, answer string // what the checker must see
	}{
		{"off by default", nil, "I am jane@example.com, card 4111 1111 1111 1111", reply},
		{"scrub.Text", []Option{WithScrubber(scrub.Text)}, "I am [EMAIL], card [CARD]", "Noted, I will call [PHONE]."},
		{"custom scrubber", []Option{WithScrubber(strings.ToUpper)}, "I AM JANE@EXAMPLE.COM, CARD 4111 1111 1111 1111", strings.ToUpper(reply)},
		{"nil turns it off", []Option{WithScrubber(scrub.Text), WithScrubber(nil)}, "I am jane@example.com, card 4111 1111 1111 1111", reply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			g := newGuard(t, rec, append([]Option{WithLogger(discardLogger())}, tt.opts...)...)
			h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer(reply))
			req := serve(h, prompt)
			if req.Body.String() != reply {
				t.Fatalf("the client got %q", req.Body.String())
			}
			closeGuard(t, g)
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("checker calls = %d, want 1", len(reqs))
			}
			if reqs[0].Prompt != tt.prompt || reqs[0].Response != tt.answer {
				t.Errorf("checker saw %q / %q, want %q / %q", reqs[0].Prompt, reqs[0].Response, tt.prompt, tt.answer)
			}
		})
	}
}

func TestPanickingScrubberSendsNothing(t *testing.T) {
	rec := &recorder{}
	g := newGuard(t, rec, WithScrubber(func(string) string { panic("bug") }))
	h := mustRoute(t, g, "chat", WithSampleRate(1), WithTestTypes("toxicity")).Wrap(answer("an answer"))
	serve(h, "a question")
	o := g.Check(context.Background(), CheckRequest{TestType: "toxicity", Prompt: "q", Response: "a"})
	if c := classify(o.Err); o.Err == nil || c.Class != failure.BadRequest {
		t.Errorf("Check with a panicking scrubber = %v, want a bad request", o.Err)
	}
	closeGuard(t, g)
	s := g.Stats()
	if n := len(rec.requests()); n != 0 || s.Dropped[drop.Panic] != 1 || s.HookPanics != 2 {
		t.Errorf("checker calls %d, dropped %v, hook panics %d; want no call, one panic drop, two panics", n, s.Dropped, s.HookPanics)
	}
}

func ExampleWithScrubber() {
	checker := CheckerFunc(func(_ context.Context, req CheckRequest) (Verdict, error) {
		fmt.Printf("checked %s: %q\n", req.TestType, req.Response)
		return Verdict{RiskLevel: "low", PassFail: "pass"}, nil
	})
	g, err := New(checker, WithScrubber(scrub.Text), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	o := g.Check(context.Background(), CheckRequest{TestType: "pii", Prompt: "hi", Response: "Reach me at jane@example.com"})
	fmt.Println(o.Err)
	_ = g.Close(context.Background())
	// Output:
	// checked pii: "Reach me at [EMAIL]"
	// <nil>
}
