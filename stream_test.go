package safecheck

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStreamedResponseIsCheckedWhole streams an OpenAI chat completion as
// server-sent events through the middleware: the client sees each event
// before the handler writes the next, and the checker gets the reassembled
// text. A stream the handler cuts short is still checked, marked partial.
func TestStreamedResponseIsCheckedWhole(t *testing.T) {
	chunks := []string{"The ", "answer ", "is ", "UNSAFE."}
	tests := []struct {
		name    string
		done    bool
		partial bool
	}{
		{"complete stream", true, false},
		{"stream cut short", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var mu sync.Mutex
			var outs []Outcome
			g := newGuard(t, rec, WithOnVerdict(func(o Outcome) { mu.Lock(); outs = append(outs, o); mu.Unlock() }))
			rt := mustRoute(t, g, "stream", WithSampleRate(1), WithTestTypes("toxicity"))
			seen := make(chan struct{})
			srv := httptest.NewServer(rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				for _, c := range chunks {
					fmt.Fprintf(w, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", c)
					w.(http.Flusher).Flush()
					select { // the next event waits until the client has this one
					case <-seen:
					case <-r.Context().Done():
						return
					case <-time.After(10 * time.Second):
						return
					}
				}
				if tc.done {
					io.WriteString(w, "data: [DONE]\n\n")
				}
			})))
			defer srv.Close()
			resp, err := http.Post(srv.URL, "application/json",
				strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"what is the answer?"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(resp.Body)
			for i := range chunks {
				line, err := br.ReadString('\n')
				if err != nil || !strings.Contains(line, fmt.Sprintf("%q", chunks[i])) {
					t.Fatalf("event %d: %q, %v", i, line, err)
				}
				br.ReadString('\n') // the blank line ending the event
				seen <- struct{}{}
			}
			io.Copy(io.Discard, br)
			resp.Body.Close()
			closeGuard(t, g)

			reqs := rec.requests()
			if len(reqs) != 1 || reqs[0].Response != "The answer is UNSAFE." || reqs[0].Prompt != "what is the answer?" {
				t.Fatalf("checker got %+v", reqs)
			}
			if len(outs) != 1 || outs[0].Partial != tc.partial || !outs[0].Verdict.Flagged || outs[0].Format != "openai.chat.stream" {
				t.Errorf("outcome = %+v, want partial=%v", outs, tc.partial)
			}
		})
	}
}
