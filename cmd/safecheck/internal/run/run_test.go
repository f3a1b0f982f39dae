package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	"github.com/safecheck/safecheck/failure"
)

// testKey is a fake key; it must never show up in any output.
const testKey = "ash_test_runpkgCANARY0123456789"

type env struct {
	srv      *assurancehubtest.Server
	guard    *safecheck.Guard
	attempts *AttemptLog
}

// newEnv starts a fake API and a Guard that talks to it with fast retries.
func newEnv(t *testing.T, retries int, srvOpts ...assurancehubtest.Option) *env {
	t.Helper()
	srv, err := assurancehubtest.NewServer(append([]assurancehubtest.Option{assurancehubtest.WithAPIKeys(testKey)}, srvOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return newEnvFor(t, srv, testKey, retries)
}

func newEnvFor(t *testing.T, srv *assurancehubtest.Server, key string, retries int) *env {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	client, err := assurancehub.New(assurancehub.WithAPIKey(key), assurancehub.WithBaseURL(srv.URL),
		assurancehub.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	alog := NewAttemptLog(safecheck.AssuranceHub(client))
	g, err := safecheck.New(alog, safecheck.WithWorkers(1), safecheck.WithLogger(slog.New(slog.DiscardHandler)),
		safecheck.WithRetries(retries, 5*time.Millisecond, 20*time.Millisecond, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("guard.Close: %v", err)
		}
	})
	return &env{srv: srv, guard: g, attempts: alog}
}

// mixed returns n cases; every third one is toxic and every fifth one
// carries personal data, by the fake's lexicon.
func mixed(n int) []cases.Case {
	out := make([]cases.Case, n)
	for i := range out {
		resp := fmt.Sprintf("answer number %d", i+1)
		if (i+1)%3 == 0 {
			resp += ", you idiot"
		}
		if (i+1)%5 == 0 {
			resp += ", mail bob@example.com"
		}
		out[i] = cases.Case{ID: fmt.Sprintf("c%d", i+1), Line: i + 1, Prompt: fmt.Sprintf("question %d", i+1), Response: resp}
	}
	return out
}

func parse(t *testing.T, b []byte) []results.Record {
	t.Helper()
	p, err := results.Parse(b)
	if err != nil || p.Partial {
		t.Fatalf("results file: %v (partial %v)", err, p != nil && p.Partial)
	}
	return p.Records
}

// recorder is a Progress that counts and keeps messages.
type recorder struct {
	mu       sync.Mutex
	added    int
	flagged  int
	failed   int
	messages []string
	onAdd    func(n int)
}

func (r *recorder) Add(flagged, failed bool) {
	r.mu.Lock()
	r.added++
	n := r.added
	if flagged {
		r.flagged++
	}
	if failed {
		r.failed++
	}
	f := r.onAdd
	r.mu.Unlock()
	if f != nil {
		f(n)
	}
}

func (r *recorder) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, fmt.Sprintf(format, args...))
}

func TestRunMixed(t *testing.T) {
	e := newEnv(t, 1)
	set := mixed(15)
	g, _ := gate.Parse("flagged")
	var out bytes.Buffer
	prog := &recorder{}
	rep, err := Run(context.Background(), e.guard, set, WithTestTypes("toxicity", "pii"), WithConcurrency(4),
		WithResults(results.NewWriter(&out)), WithProgress(prog), WithGate(g))
	if err != nil {
		t.Fatal(err)
	}
	// toxic: 3,6,9,12,15; pii: 5,10,15.
	if rep.Pairs != 30 || rep.Ran != 30 || rep.NotRun != 0 || rep.Resumed != 0 || rep.Interrupted {
		t.Errorf("report %+v", rep)
	}
	s := rep.Summary
	if s.Evaluated != 30 || s.Flagged != 8 || s.Errors != 0 || s.GateFailures != 8 || s.NotRun != 0 {
		t.Errorf("summary evaluated %d flagged %d errors %d gate %d", s.Evaluated, s.Flagged, s.Errors, s.GateFailures)
	}
	if s.TestTypes[0].Flagged != 5 || s.TestTypes[1].Flagged != 3 ||
		s.TestTypes[0].RiskLevels["reject"] != 5 || s.TestTypes[0].RiskLevels["low"] != 10 {
		t.Errorf("per test type: %+v", s.TestTypes)
	}
	if e.srv.Requests("toxicity") != 15 || e.srv.Requests("pii") != 15 {
		t.Errorf("server evaluated %d toxicity, %d pii", e.srv.Requests("toxicity"), e.srv.Requests("pii"))
	}
	if prog.added != 30 || prog.flagged != 8 || prog.failed != 0 {
		t.Errorf("progress %d added, %d flagged, %d failed", prog.added, prog.flagged, prog.failed)
	}
	recs := parse(t, out.Bytes())
	if len(recs) != 30 {
		t.Fatalf("%d records", len(recs))
	}
	seen := map[results.Key]bool{}
	for _, r := range recs {
		if seen[r.Key()] || !r.OK() || r.Attempts != 1 || r.Prompt != "" || r.Response != "" {
			t.Errorf("bad record %+v", r)
		}
		seen[r.Key()] = true
		toxic := r.TestType == "toxicity" && r.Line%3 == 0
		personal := r.TestType == "pii" && r.Line%5 == 0
		if r.Flagged != (toxic || personal) {
			t.Errorf("record %s/%s flagged %v", r.ID, r.TestType, r.Flagged)
		}
	}
	if strings.Contains(out.String(), testKey) || strings.Contains(out.String(), "answer number") {
		t.Error("the results hold the key or content")
	}
}

func TestRunIncludesContentOnRequest(t *testing.T) {
	e := newEnv(t, 0)
	set := []cases.Case{{ID: "a", Line: 1, Prompt: "p", Response: "r", CustomerID: "acme"}}
	var out bytes.Buffer
	if _, err := Run(context.Background(), e.guard, set, WithTestTypes("pii"), WithResults(results.NewWriter(&out)), WithContent(true)); err != nil {
		t.Fatal(err)
	}
	r := parse(t, out.Bytes())[0]
	if r.Prompt != "p" || r.Response != "r" || r.CustomerID != "acme" {
		t.Errorf("record %+v lacks the content", r)
	}
}

func TestRunDuplicateTextIsCached(t *testing.T) {
	e := newEnv(t, 0)
	set := []cases.Case{
		{ID: "a", Line: 1, Prompt: "same", Response: "same text"},
		{ID: "b", Line: 2, Prompt: "same", Response: "same text"},
	}
	rep, err := Run(context.Background(), e.guard, set, WithTestTypes("bias"), WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.Requests("bias") != 1 || rep.Summary.TestTypes[0].Cached != 1 || rep.Summary.Evaluated != 2 {
		t.Errorf("%d requests, %d cached, %d evaluated; want 1, 1, 2", e.srv.Requests("bias"), rep.Summary.TestTypes[0].Cached, rep.Summary.Evaluated)
	}
}

func TestRunSkipsDonePairs(t *testing.T) {
	e := newEnv(t, 0)
	set := mixed(6)
	done := map[results.Key]results.Record{
		{ID: "c1", TestType: "toxicity"}:   {ID: "c1", TestType: "toxicity", Verdict: &results.Verdict{RiskLevel: "low", PassFail: "pass"}},
		{ID: "c3", TestType: "toxicity"}:   {ID: "c3", TestType: "toxicity", Verdict: &results.Verdict{Flagged: true, Score: 0.85, RiskLevel: "reject", PassFail: "fail"}, Line: 3},
		{ID: "gone", TestType: "toxicity"}: {ID: "gone", TestType: "toxicity", Verdict: &results.Verdict{Flagged: true}}, // not in the input
	}
	g, _ := gate.Parse("flagged")
	var out bytes.Buffer
	rep, err := Run(context.Background(), e.guard, set, WithTestTypes("toxicity"), WithDone(done), WithGate(g),
		WithResults(results.NewWriter(&out)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed != 2 || rep.Ran != 4 || e.srv.Requests("toxicity") != 4 {
		t.Errorf("resumed %d, ran %d, requests %d; want 2, 4, 4", rep.Resumed, rep.Ran, e.srv.Requests("toxicity"))
	}
	if s := rep.Summary; s.Evaluated != 6 || s.Resumed != 2 || s.Flagged != 2 || s.GateFailures != 2 || s.Failures[0].ID != "c3" {
		t.Errorf("summary %+v", s)
	}
	for _, r := range parse(t, out.Bytes()) {
		if r.ID == "c1" || r.ID == "c3" {
			t.Errorf("done pair %s evaluated again", r.ID)
		}
	}
}

func TestRunRateLimitRounds(t *testing.T) {
	e := newEnv(t, 1)
	// Without Retry-After the Guard retries with backoff; after its two
	// attempts the pair is tried again, round after round.
	for range 6 {
		e.srv.FailNext(assurancehubtest.RateLimited(""))
	}
	set := mixed(3)
	rep, err := Run(context.Background(), e.guard, set, WithTestTypes("bias"), WithConcurrency(1), withRoundWait(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Errors != 0 || rep.Summary.Evaluated != 3 || e.srv.Requests("bias") != 3 {
		t.Errorf("errors %d, evaluated %d, requests %d", rep.Summary.Errors, rep.Summary.Evaluated, e.srv.Requests("bias"))
	}
	if got := rep.Summary.APIAttempts; got != 9 {
		t.Errorf("%d attempts, want 9 (7 for the first pair)", got)
	}
}

func TestRunRateLimitGivesUpAfterRounds(t *testing.T) {
	e := newEnv(t, 0)
	for range RateLimitRounds + 1 {
		e.srv.FailNext(assurancehubtest.RateLimited(""))
	}
	rep, err := Run(context.Background(), e.guard, mixed(2), WithTestTypes("bias"), WithConcurrency(1), withRoundWait(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.ErrorsByClass[failure.RateLimited.String()] != 1 || rep.Summary.Evaluated != 1 {
		t.Errorf("errors %v, evaluated %d; want one rate_limited pair", rep.Summary.ErrorsByClass, rep.Summary.Evaluated)
	}
	if rep.Summary.Slowest[0].Attempts != RateLimitRounds {
		t.Errorf("slowest %+v, want %d attempts", rep.Summary.Slowest[0], RateLimitRounds)
	}
}

func TestRunRetryAfterPausesWithoutFailing(t *testing.T) {
	e := newEnv(t, 3)
	e.srv.FailNext(assurancehubtest.RateLimited("1"), assurancehubtest.RateLimited("1"))
	start := time.Now()
	rep, err := Run(context.Background(), e.guard, mixed(6), WithTestTypes("bias"), WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Errors != 0 || rep.Summary.Evaluated != 6 {
		t.Errorf("errors %d, evaluated %d", rep.Summary.Errors, rep.Summary.Evaluated)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("run took %s; the Retry-After of 1s was not honoured", d)
	}
}

func TestRunInterruptLetsCallsFinish(t *testing.T) {
	e := newEnv(t, 0)
	e.srv.SetLatency(150 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := &recorder{onAdd: func(n int) {
		if n == 1 {
			cancel()
		}
	}}
	var out bytes.Buffer
	rep, err := Run(ctx, e.guard, mixed(20), WithTestTypes("bias"), WithConcurrency(3), WithProgress(prog),
		WithResults(results.NewWriter(&out)))
	if err != nil {
		t.Fatal(err)
	}
	recs := parse(t, out.Bytes())
	// Every pair the API evaluated is in the file; none is written twice.
	if len(recs) != e.srv.Requests("bias") || rep.Ran != len(recs) || rep.NotRun != 20-len(recs) {
		t.Errorf("%d records, %d evaluated by the API, ran %d, not run %d", len(recs), e.srv.Requests("bias"), rep.Ran, rep.NotRun)
	}
	if !rep.Interrupted || rep.Ran < 1 || rep.Ran > 6 {
		t.Errorf("interrupted %v after %d pairs", rep.Interrupted, rep.Ran)
	}
	if len(prog.messages) != 1 || !strings.Contains(prog.messages[0], "in flight finish") {
		t.Errorf("messages %q", prog.messages)
	}
}

func TestRunInterruptCancelsAfterGraceOrHardStop(t *testing.T) {
	for _, hard := range []bool{false, true} {
		t.Run(fmt.Sprintf("hard=%v", hard), func(t *testing.T) {
			e := newEnv(t, 0)
			e.srv.SetLatency(time.Minute)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			hardStop := make(chan struct{})
			grace := 100 * time.Millisecond
			if hard {
				grace = time.Minute
			}
			go func() {
				for e.srv.TotalRequests() < 2 {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
				if hard {
					close(hardStop)
				}
			}()
			start := time.Now()
			rep, err := Run(ctx, e.guard, mixed(5), WithTestTypes("bias"), WithConcurrency(2), WithGrace(grace), WithHardStop(hardStop))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ran != 0 || rep.NotRun != 5 || !rep.Interrupted || rep.Summary.Errors != 0 {
				t.Errorf("ran %d, not run %d, interrupted %v, errors %d", rep.Ran, rep.NotRun, rep.Interrupted, rep.Summary.Errors)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Run took %s", d)
			}
		})
	}
}

func TestRunStopsOnRejectedKey(t *testing.T) {
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys("ash_test_theRightKey"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e := newEnvFor(t, srv, testKey, 3)
	rep, err := Run(context.Background(), e.guard, mixed(50), WithTestTypes("bias"), WithConcurrency(2), WithMaxErrors(-1))
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("error %q", err)
	}
	if rep.Ran > 3 || srv.TotalRequests() > 3 {
		t.Errorf("ran %d pairs, %d requests after the key was rejected", rep.Ran, srv.TotalRequests())
	}
}

func TestRunStopsAfterMaxErrors(t *testing.T) {
	e := newEnv(t, 0)
	for range 100 {
		e.srv.FailNext(assurancehubtest.Status(http.StatusBadGateway))
	}
	rep, err := Run(context.Background(), e.guard, mixed(50), WithTestTypes("bias"), WithConcurrency(1), WithMaxErrors(3))
	if !errors.Is(err, ErrTooManyErrors) {
		t.Fatalf("Run = %v, want ErrTooManyErrors", err)
	}
	msg := err.Error()
	for _, want := range []string{"4 pairs failed, more than -max-errors 3", "server_error", "HTTP 502"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if rep.Ran != 4 || rep.NotRun != 46 {
		t.Errorf("ran %d, not run %d", rep.Ran, rep.NotRun)
	}
	// The one worker may have started the next pair before the fourth
	// failure stopped the run.
	if got := e.attempts.Errors()[failure.Server.String()]; got != 4 && got != 5 {
		t.Errorf("attempt log: %d server errors, want 4 or 5", got)
	}
}

func TestRunQuotesTheCauseBehindAnOpenCircuit(t *testing.T) {
	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAPIKeys(testKey))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvFor(t, srv, testKey, 0)
	srv.Close() // a dead API
	_, err = Run(context.Background(), e.guard, mixed(20), WithTestTypes("bias"), WithConcurrency(1), WithMaxErrors(8),
		WithAttemptLog(e.attempts))
	if !errors.Is(err, ErrTooManyErrors) {
		t.Fatalf("Run = %v", err)
	}
	for _, want := range []string{"circuit_open", "failed attempts: network 5", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRunToleratesErrorsWithinBudget(t *testing.T) {
	e := newEnv(t, 0)
	e.srv.FailNext(assurancehubtest.Status(http.StatusInternalServerError), assurancehubtest.Status(http.StatusRequestEntityTooLarge))
	var out bytes.Buffer
	rep, err := Run(context.Background(), e.guard, mixed(5), WithTestTypes("bias"), WithConcurrency(1), WithMaxErrors(2),
		WithResults(results.NewWriter(&out)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Errors != 2 || rep.Summary.Evaluated != 3 {
		t.Errorf("errors %v, evaluated %d", rep.Summary.ErrorsByClass, rep.Summary.Evaluated)
	}
	var classes []string
	for _, r := range parse(t, out.Bytes()) {
		if !r.OK() {
			classes = append(classes, fmt.Sprintf("%s/%d", r.ErrorClass, r.Status))
		}
	}
	if strings.Join(classes, ",") != "server_error/500,bad_request/413" {
		t.Errorf("error records %v", classes)
	}
}

func TestRunStopsWhenResultsCannotBeWritten(t *testing.T) {
	e := newEnv(t, 0)
	rep, err := Run(context.Background(), e.guard, mixed(30), WithTestTypes("bias"), WithConcurrency(1),
		WithResults(results.NewWriter(&gatedWriter{at: 3, fail: true})))
	if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Run = %v, want ErrWrite", err)
	}
	if rep.Ran != 2 {
		t.Errorf("ran %d, want the 2 pairs that were written", rep.Ran)
	}
}

// answerAtOnce answers every check at once, ignoring its context: the
// checks up to fails fail with a 502, the others pass. It closes
// answered[n-1] once it has answered its nth check.
type answerAtOnce struct {
	calls    atomic.Int32
	fails    int
	answered []chan struct{}
}

func newAnswerAtOnce(fails, n int) *answerAtOnce {
	a := &answerAtOnce{fails: fails}
	for range n {
		a.answered = append(a.answered, make(chan struct{}))
	}
	return a
}

func (a *answerAtOnce) Check(ctx context.Context, req safecheck.CheckRequest) safecheck.Outcome {
	n := int(a.calls.Add(1))
	if n <= len(a.answered) {
		defer close(a.answered[n-1])
	}
	if n <= a.fails {
		return safecheck.Outcome{TestType: req.TestType,
			Err: &safecheck.CheckError{Class: failure.Server, Status: http.StatusBadGateway, Err: errors.New("bad gateway")}}
	}
	return safecheck.Outcome{TestType: req.TestType, Verdict: safecheck.Verdict{Score: 0.1, RiskLevel: "low", PassFail: "pass"}}
}

// gatedWriter holds its atth record until after is closed, when after is
// set; with fail set it fails that record and every later one.
type gatedWriter struct {
	at      int
	after   <-chan struct{}
	fail    bool
	n, kept int
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if w.n++; w.n == w.at && w.after != nil {
		select {
		case <-w.after:
		case <-time.After(10 * time.Second):
		}
	}
	if w.fail && w.n >= w.at {
		return 0, errors.New("disk full")
	}
	w.kept++
	return len(p), nil
}

// TestRunCountsNoPairAfterItStopped: when the run stops on a failed write
// or on one error too many, the one worker has already answered the next
// pair (the writer holds the record that stops the run until it has).
// That pair is not recorded, so it is not counted as run either: a resumed
// run evaluates it.
func TestRunCountsNoPairAfterItStopped(t *testing.T) {
	tests := []struct {
		name      string
		fails     int // the first checks that fail
		maxErrors int
		failWrite bool // the third write fails
		want      error
		ran       int
	}{
		{"write fails", 0, DefaultMaxErrors, true, ErrWrite, 2},
		{"one error too many", 3, 2, false, ErrTooManyErrors, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAnswerAtOnce(tt.fails, 4)
			w := &gatedWriter{at: 3, after: a.answered[3], fail: tt.failWrite}
			rep, err := Run(context.Background(), a, mixed(30), WithTestTypes("bias"), WithConcurrency(1),
				WithMaxErrors(tt.maxErrors), WithResults(results.NewWriter(w)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Run = %v, want %v", err, tt.want)
			}
			if rep.Ran != tt.ran || w.kept != tt.ran || rep.NotRun != 30-tt.ran || rep.Summary.NotRun != 30-tt.ran {
				t.Errorf("ran %d, %d records kept, not run %d (summary %d); want %d, %d, %d",
					rep.Ran, w.kept, rep.NotRun, rep.Summary.NotRun, tt.ran, tt.ran, 30-tt.ran)
			}
		})
	}
}

func TestRunConfigErrors(t *testing.T) {
	e := newEnv(t, 0)
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no test types", nil, "no test types"},
		{"duplicate test type", []Option{WithTestTypes("pii", "pii")}, `"pii" listed twice`},
		{"zero concurrency", []Option{WithTestTypes("pii"), WithConcurrency(0)}, "concurrency must be positive"},
		{"negative grace", []Option{WithTestTypes("pii"), WithGrace(-1)}, "grace must not be negative"},
		{"nil option", []Option{WithTestTypes("pii"), nil}, "run: option 2 is nil"},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), e.guard, mixed(1), tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Run = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := Run(context.Background(), nil, mixed(1), WithTestTypes("pii")); err == nil {
		t.Error("Run accepted a nil checker")
	}
}

func TestAttemptLog(t *testing.T) {
	calls := 0
	inner := safecheck.CheckerFunc(func(ctx context.Context, req safecheck.CheckRequest) (safecheck.Verdict, error) {
		calls++
		switch calls {
		case 1, 2:
			return safecheck.Verdict{}, &safecheck.CheckError{Class: failure.Server, Status: 503, Err: fmt.Errorf("call %d", calls)}
		case 3:
			return safecheck.Verdict{}, errors.New("some transport error")
		}
		return safecheck.Verdict{Score: 0.5}, nil
	})
	l := NewAttemptLog(inner)
	for range 4 {
		_, _ = l.Check(context.Background(), safecheck.CheckRequest{TestType: "pii"})
	}
	if got := l.Errors(); got[failure.Server.String()] != 2 || got[failure.Network.String()] != 1 || len(got) != 2 {
		t.Errorf("Errors = %v", got)
	}
	if msg, ok := l.First(failure.Server.String()); !ok || msg != "server_error (HTTP 503): call 1" {
		t.Errorf("First(server_error) = %q, %v", msg, ok)
	}
	if _, ok := l.First(failure.Timeout.String()); ok {
		t.Error("First(timeout) found something")
	}
	if !l.Supports("anything") || l.Supports("") {
		t.Error("Supports of a plain Checker")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	_, _ = l.Check(ctx, safecheck.CheckRequest{TestType: "pii"})
	if l.Errors()[failure.Server.String()] != 2 {
		t.Error("an attempt of a cancelled check was counted")
	}
}

// heldChecker answers at once, except for the pair of case hold, which
// waits for release. It counts the calls started.
type heldChecker struct {
	hold    string
	release chan struct{}
	started atomic.Int64
}

func (h *heldChecker) Check(ctx context.Context, req safecheck.CheckRequest) safecheck.Outcome {
	h.started.Add(1)
	if req.Prompt == h.hold {
		select {
		case <-h.release:
		case <-ctx.Done():
		}
	}
	return safecheck.Outcome{TestType: req.TestType, Attempts: 1, Verdict: safecheck.Verdict{Score: 0.1, RiskLevel: "low", PassFail: "pass"}}
}

// TestRunOrdered holds the first pair back: records are written as they
// finish, or with WithOrdered in input order, while no pair more than the
// concurrency window ahead of the held one starts.
func TestRunOrdered(t *testing.T) {
	tests := []struct {
		name        string
		ordered     bool
		concurrency int
		wantStarted int64 // calls started while the first pair is held
	}{
		{"as they finish", false, 3, 12},
		{"in input order", true, 3, 3},
		{"in input order, window of one", true, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				set := mixed(6)
				check := &heldChecker{hold: set[0].Prompt, release: make(chan struct{})}
				var out bytes.Buffer
				prog := &recorder{}
				done := make(chan *Report)
				go func() {
					rep, err := Run(context.Background(), check, set, WithTestTypes("toxicity", "pii"),
						WithConcurrency(tt.concurrency), WithOrdered(tt.ordered), WithResults(results.NewWriter(&out)), WithProgress(prog))
					if err != nil {
						t.Error(err)
					}
					done <- rep
				}()
				synctest.Wait()
				if n := check.started.Load(); n != tt.wantStarted {
					t.Errorf("%d calls started while the first pair was held, want %d", n, tt.wantStarted)
				}
				close(check.release)
				rep := <-done
				if rep.Ran != 12 || prog.added != 12 {
					t.Errorf("ran %d, progress %d; want 12", rep.Ran, prog.added)
				}
				var order []string
				for _, r := range parse(t, out.Bytes()) {
					order = append(order, r.ID+"/"+r.TestType)
				}
				first := slices.Index(order, "c1/toxicity")
				if tt.ordered {
					var want []string
					for _, c := range set {
						want = append(want, c.ID+"/toxicity", c.ID+"/pii")
					}
					if !slices.Equal(order, want) {
						t.Errorf("records %v, want %v", order, want)
					}
				} else if len(order) != 12 || first < 2 {
					t.Errorf("records %v: the held pair should come late", order)
				}
			})
		})
	}
}
