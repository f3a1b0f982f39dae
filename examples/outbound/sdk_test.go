package outbound

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/internal/syncbuf"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	ashKey   = "ash_test_CANARYKEY0123456789abcdef01234567"
	question = "CANARY-PROMPT-91c2: what will the villain do?"
)

// rig is one guard checking against the fake AssuranceHub, with a route
// whose transport the guarded SDK clients use, and the fake LLM they call.
type rig struct {
	llm   *fakeLLM
	guard *safecheck.Guard
	route *safecheck.Route
	base  *http.Transport
	logs  *syncbuf.Buffer

	mu     sync.Mutex
	checks []safecheck.CheckRequest
	outs   []safecheck.Outcome
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{llm: newFakeLLM(t), base: &http.Transport{}, logs: &syncbuf.Buffer{}}
	t.Cleanup(r.base.CloseIdleConnections)
	ah, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys(ashKey))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ah.Close)
	client, err := assurancehub.New(assurancehub.WithAPIKey(ashKey), assurancehub.WithBaseURL(ah.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	hub := safecheck.AssuranceHub(client)
	recording := safecheck.CheckerFunc(func(ctx context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		r.mu.Lock()
		r.checks = append(r.checks, req)
		r.mu.Unlock()
		return hub.Check(ctx, req)
	})
	r.guard, err = safecheck.New(recording,
		safecheck.WithLogger(slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		safecheck.WithOnVerdict(func(o safecheck.Outcome) { r.mu.Lock(); r.outs = append(r.outs, o); r.mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.guard.Close(ctx)
	})
	r.route, err = r.guard.Route("llm", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// httpClient is what an SDK is given: the bare transport, or the route's
// around it.
func (r *rig) httpClient(guarded bool) *http.Client {
	if guarded {
		return &http.Client{Transport: r.route.Transport(r.base)}
	}
	return &http.Client{Transport: r.base}
}

// call is one SDK call of a case; it returns what the SDK gave, as text.
type call struct {
	guarded bool
	early   bool // close the stream after its first text event
	retries int
}

func (r *rig) openAI(c call) *openai.Client {
	opts := []option.RequestOption{option.WithAPIKey(openAIKey), option.WithBaseURL(r.llm.URL + "/v1/"),
		option.WithHTTPClient(r.httpClient(c.guarded)), option.WithMaxRetries(c.retries)}
	if c.early {
		opts = append(opts, option.WithHeader(holdHeader, "1"))
	}
	client := openai.NewClient(opts...)
	return &client
}

func (r *rig) anthropic(c call) *anthropic.Client {
	opts := []anthropicoption.RequestOption{anthropicoption.WithAPIKey(anthropicKey), anthropicoption.WithBaseURL(r.llm.URL),
		anthropicoption.WithHTTPClient(r.httpClient(c.guarded)), anthropicoption.WithMaxRetries(c.retries)}
	if c.early {
		opts = append(opts, anthropicoption.WithHeader(holdHeader, "1"))
	}
	client := anthropic.NewClient(opts...)
	return &client
}

var (
	chatParams = openai.ChatCompletionNewParams{Model: openai.ChatModelGPT5_4Mini,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage(question)}}
	responsesParams = responses.ResponseNewParams{Model: openai.ChatModelGPT5_4Mini, Instructions: openai.String("Be brief."),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(question)}}
	messagesParams = anthropic.MessageNewParams{Model: anthropic.ModelClaudeSonnet5_5, MaxTokens: 256,
		System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(question))}}
)

// sdkCase is one API, JSON or streamed, through its SDK.
type sdkCase struct {
	name, format string
	stream       bool
	run          func(ctx context.Context, r *rig, c call) (string, error)
}

var sdkCases = []sdkCase{
	{"openai chat", "openai.chat", false, func(ctx context.Context, r *rig, c call) (string, error) {
		res, err := r.openAI(c).Chat.Completions.New(ctx, chatParams)
		if err != nil {
			return "", err
		}
		return res.RawJSON() + "\n" + res.Choices[0].Message.Content, nil
	}},
	{"openai chat stream", "openai.chat.stream", true, func(ctx context.Context, r *rig, c call) (string, error) {
		st := r.openAI(c).Chat.Completions.NewStreaming(ctx, chatParams)
		defer st.Close()
		var (
			b   strings.Builder
			acc openai.ChatCompletionAccumulator
		)
		for st.Next() {
			chunk := st.Current()
			acc.AddChunk(chunk)
			b.WriteString(chunk.RawJSON() + "\n")
			if c.early && len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
				return b.String(), st.Close()
			}
		}
		if len(acc.Choices) > 0 {
			b.WriteString(acc.Choices[0].Message.Content)
		}
		return b.String(), st.Err()
	}},
	{"openai responses", "openai.responses", false, func(ctx context.Context, r *rig, c call) (string, error) {
		res, err := r.openAI(c).Responses.New(ctx, responsesParams)
		if err != nil {
			return "", err
		}
		return res.RawJSON() + "\n" + res.OutputText(), nil
	}},
	{"openai responses stream", "openai.responses.stream", true, func(ctx context.Context, r *rig, c call) (string, error) {
		st := r.openAI(c).Responses.NewStreaming(ctx, responsesParams)
		defer st.Close()
		var b, text strings.Builder
		for st.Next() {
			ev := st.Current()
			b.WriteString(ev.RawJSON() + "\n")
			if ev.Type == "response.output_text.delta" {
				text.WriteString(ev.Delta)
				if c.early {
					return b.String(), st.Close()
				}
			}
		}
		return b.String() + text.String(), st.Err()
	}},
	{"anthropic messages", "anthropic.messages", false, func(ctx context.Context, r *rig, c call) (string, error) {
		msg, err := r.anthropic(c).Messages.New(ctx, messagesParams)
		if err != nil {
			return "", err
		}
		return msg.RawJSON() + "\n" + msg.Content[0].Text, nil
	}},
	{"anthropic messages stream", "anthropic.messages.stream", true, func(ctx context.Context, r *rig, c call) (string, error) {
		st := r.anthropic(c).Messages.NewStreaming(ctx, messagesParams)
		defer st.Close()
		var (
			b   strings.Builder
			msg anthropic.Message
		)
		for st.Next() {
			ev := st.Current()
			if err := msg.Accumulate(ev); err != nil {
				return "", err
			}
			b.WriteString(ev.RawJSON() + "\n")
			if c.early && ev.Type == "content_block_delta" {
				return b.String(), st.Close()
			}
		}
		if len(msg.Content) > 0 {
			b.WriteString(msg.Content[0].Text)
		}
		return b.String(), st.Err()
	}},
}

// settle waits for the guard's checks and returns what the checker and the
// hook saw; it checks the accounting and that no record holds content or a
// key.
func (r *rig) settle(t *testing.T) ([]safecheck.CheckRequest, []safecheck.Outcome, safecheck.Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.guard.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := r.guard.Stats()
	sum := s.Checked + s.CacheHits + uint64(s.InFlight)
	for _, n := range s.Dropped {
		sum += n
	}
	for _, n := range s.Failed {
		sum += n
	}
	if sum != s.Sampled {
		t.Errorf("accounting: sampled %d, but checked %d + cache hits %d + dropped %v + failed %v + in flight %d",
			s.Sampled, s.Checked, s.CacheHits, s.Dropped, s.Failed, s.InFlight)
	}
	out := r.logs.String() + fmt.Sprintf("%+v", s)
	for _, secret := range []string{"CANARY-PROMPT", "CANARY-RESPONSE", "CANARYKEY", openAIKey, anthropicKey, ashKey} {
		if strings.Contains(out, secret) {
			t.Errorf("%q is in a record:\n%s", secret, out)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]safecheck.CheckRequest(nil), r.checks...), append([]safecheck.Outcome(nil), r.outs...), s
}

// TestSDKsAnswerAsWithoutTheTransport calls each API through its SDK,
// without the transport and through it, and compares what the SDK
// returned; the check gets the reassembled answer, in which the fake
// AssuranceHub finds the phrase the stream split in two.
func TestSDKsAnswerAsWithoutTheTransport(t *testing.T) {
	for _, tc := range sdkCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			want, err := tc.run(context.Background(), r, call{})
			if err != nil {
				t.Fatalf("without the transport: %v", err)
			}
			ctx := safecheck.ContextWithIDs(context.Background(), "acme", "req-42")
			got, err := tc.run(ctx, r, call{guarded: true})
			if err != nil {
				t.Fatalf("through the transport: %v", err)
			}
			if got != want {
				t.Errorf("through the transport the SDK returned\n%s\nwithout it\n%s", got, want)
			}
			if !strings.HasSuffix(want, answer()) {
				t.Errorf("the SDK's answer is not the fake's:\n%s", want)
			}
			checks, outs, s := r.settle(t)
			if len(checks) != 1 || checks[0].Response != answer() || !strings.Contains(checks[0].Prompt, question) || checks[0].CustomerID != "acme" {
				t.Fatalf("checker got %+v", checks)
			}
			if len(outs) != 1 {
				t.Fatalf("outcomes %+v, want 1", outs)
			}
			o := outs[0]
			if !o.Outbound || o.Partial || !o.Verdict.Flagged || o.Format != tc.format || o.RequestID != "req-42" || o.Err != nil {
				t.Errorf("outcome %+v: want outbound, whole, flagged, format %s, request req-42", o, tc.format)
			}
			if s.Routes[0].Requests != 1 || s.Checked != 1 {
				t.Errorf("requests %d, checked %d; want 1 and 1", s.Routes[0].Requests, s.Checked)
			}
			if !strings.Contains(r.logs.String(), `"direction":"outbound"`) {
				t.Errorf("no direction=outbound record:\n%s", r.logs.String())
			}
		})
	}
}

// TestSDKStreamClosedEarlyIsCheckedAsPartial stops reading each stream
// after its first text event and closes it, as an app that has what it
// needs does: the SDK behaves as without the transport, and the text read
// so far is checked, marked partial.
func TestSDKStreamClosedEarlyIsCheckedAsPartial(t *testing.T) {
	for _, tc := range sdkCases {
		if !tc.stream {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			want, err := tc.run(context.Background(), r, call{early: true})
			if err != nil {
				t.Fatalf("without the transport: %v", err)
			}
			got, err := tc.run(context.Background(), r, call{early: true, guarded: true})
			if err != nil {
				t.Fatalf("through the transport: %v", err)
			}
			if got != want {
				t.Errorf("through the transport the SDK returned\n%s\nwithout it\n%s", got, want)
			}
			checks, outs, _ := r.settle(t)
			if len(checks) != 1 || checks[0].Response != answerChunks[0] {
				t.Fatalf("checker got %+v, want the first chunk", checks)
			}
			if len(outs) != 1 || !outs[0].Partial || outs[0].Format != tc.format {
				t.Errorf("outcomes %+v, want one, partial", outs)
			}
		})
	}
}

// TestSDKRetryAfterAServerErrorIsOneSample makes the fake answer 500 once:
// each SDK retries, and only the answer is sampled.
func TestSDKRetryAfterAServerErrorIsOneSample(t *testing.T) {
	for _, tc := range sdkCases {
		if tc.stream {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.llm.fail.Store(1)
			got, err := tc.run(context.Background(), r, call{guarded: true, retries: 2})
			if err != nil {
				t.Fatalf("the SDK did not retry: %v", err)
			}
			if !strings.HasSuffix(got, answer()) || r.llm.calls.Load() != 2 {
				t.Fatalf("calls %d, answer %q: want a 500 and then the answer", r.llm.calls.Load(), got)
			}
			checks, _, s := r.settle(t)
			if s.Routes[0].Requests != 2 || s.Sampled != 1 || s.Checked != 1 || len(checks) != 1 {
				t.Errorf("requests %d, sampled %d, checked %d, checks %d; want 2 requests and one sample, checked",
					s.Routes[0].Requests, s.Sampled, s.Checked, len(checks))
			}
		})
	}
}
