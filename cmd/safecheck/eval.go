package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/gate"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/progress"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
	rn "github.com/safecheck/safecheck/cmd/safecheck/internal/run"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
)

const evalUsage = `Usage: safecheck eval -in FILE [flags]

Evaluates every case of FILE (JSON Lines or CSV with a header row; "-" for
standard input) for every test type, and prints a summary. See
"go doc github.com/safecheck/safecheck/cmd/safecheck" for the formats.

Flags:
`

// shownProblems is how many input problems are printed to stderr.
const shownProblems = 20

type evalFlags struct {
	in, format, tests, out, summaryJSON, failOn, baseURL, keyFile, progress string
	concurrency, rate, maxErrors, retries                                   int
	resume, includeContent, strict, verbose, ordered                        bool
	progressInterval, timeout, maxRetryAfter, grace                         time.Duration
}

func evalFlagSet(f *evalFlags, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("safecheck eval", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.in, "in", "", "input `file`: JSON Lines or CSV; - reads standard input (required)")
	fs.StringVar(&f.format, "format", "auto", "input format: auto (by extension, else by content), jsonl or csv")
	fs.StringVar(&f.tests, "tests", strings.Join(safecheck.DefaultTestTypes(), ","),
		"comma-separated test `types`, or all: "+strings.Join(assurancehub.TestTypes(), ", "))
	fs.IntVar(&f.concurrency, "concurrency", rn.DefaultConcurrency, "calls in flight at once (the API docs advise 10-50)")
	fs.IntVar(&f.rate, "rate", 0, "at most `n` requests per minute, your plan's limit (0: no client-side limit)")
	fs.StringVar(&f.out, "out", "", "write one JSON line per case and test type to `file`")
	fs.BoolVar(&f.resume, "resume", false, "skip the pairs that already have a verdict in the -out file, and append to it")
	fs.BoolVar(&f.ordered, "ordered", false, "write the -out file in input order (each case's test types in -tests order)\n"+
		"instead of as calls finish: a record that is done early waits for the ones before it,\n"+
		"and no pair more than -concurrency ahead of the oldest waiting one starts")
	fs.BoolVar(&f.includeContent, "include-content", false, "also write prompt, response and customer_id to the -out file")
	fs.StringVar(&f.summaryJSON, "summary-json", "", "also write the summary as JSON to `file`")
	fs.StringVar(&f.failOn, "fail-on", "", "exit 1 when a verdict matches any of these comma-separated `rules`:\n"+
		"flagged, fail, risk>=LEVEL (low<medium<high<reject<critical), score>=N;\n"+
		"operators >= > <= < =; prefix a rule with TYPE: to limit it to one test type")
	fs.IntVar(&f.maxErrors, "max-errors", rn.DefaultMaxErrors, "stop with exit 2 when more than `n` pairs fail to evaluate (negative: never)")
	fs.BoolVar(&f.strict, "strict", false, "treat any bad input line as fatal (exit 2 before the first call)")
	fs.StringVar(&f.baseURL, "base-url", cmp.Or(os.Getenv(assurancehub.EnvBaseURL), assurancehub.DefaultBaseURL),
		"API base `URL` (plain http only for loopback, e.g. a serve-fake); the default is $"+assurancehub.EnvBaseURL+" when set")
	fs.StringVar(&f.keyFile, "key-file", "", "read the API key from `file` instead of $"+assurancehub.EnvAPIKey)
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (a bar on a terminal, plain lines otherwise), bar, plain or off")
	fs.DurationVar(&f.progressInterval, "progress-interval", progress.DefaultInterval,
		"write a plain progress line this often, besides every 10% (0: only every 10%)")
	fs.IntVar(&f.retries, "retries", defaultRetries, "retries of a failed call (429, 5xx, network), with backoff")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "timeout of one attempt")
	fs.DurationVar(&f.maxRetryAfter, "max-retry-after", defaultMaxRetryAfter, "longest wait a 429's Retry-After may impose")
	fs.DurationVar(&f.grace, "grace", rn.DefaultGrace, "after Ctrl-C, how long calls in flight may finish before they are cancelled")
	fs.BoolVar(&f.verbose, "v", false, "log the client's warnings (circuit breaker, pauses) to stderr")
	return fs
}

func evalCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f evalFlags
	fs := evalFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "safecheck eval: "+format+"\n", a...)
		fmt.Fprintln(stderr, `Run "safecheck help eval" for usage.`)
		return exitError
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments after the flags (%d); flags go before them", fs.NArg())
	}
	if f.in == "" {
		return usageErr("-in is required (a file, or - for standard input)")
	}
	testTypes, err := parseTests(f.tests)
	if err != nil {
		return usageErr("%v", err)
	}
	g, err := gate.Parse(f.failOn)
	if err != nil {
		return usageErr("%v", err)
	}
	for _, t := range g.TestTypes() {
		if !contains(testTypes, t) {
			return usageErr("-fail-on names test type %q, which -tests does not include", t)
		}
	}
	format, err := inputFormat(f.format, f.in)
	if err != nil {
		return usageErr("%v", err)
	}
	mode, err := progress.ParseMode(f.progress)
	if err != nil {
		return usageErr("%v", err)
	}
	switch {
	case f.resume && f.out == "":
		return usageErr("-resume needs -out, the results file to resume from")
	case f.includeContent && f.out == "":
		return usageErr("-include-content needs -out")
	case f.ordered && f.out == "":
		return usageErr("-ordered needs -out, the results file it orders")
	case f.concurrency <= 0:
		return usageErr("-concurrency must be positive")
	case f.rate < 0:
		return usageErr("-rate must not be negative")
	case f.retries < 0:
		return usageErr("-retries must not be negative")
	case f.progressInterval < 0:
		return usageErr("-progress-interval must not be negative")
	case f.timeout <= 0 || f.maxRetryAfter <= 0:
		return usageErr("-timeout and -max-retry-after must be positive")
	case f.grace < 0:
		return usageErr("-grace must not be negative")
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "safecheck eval: "+format+"\n", a...)
		return exitError
	}

	key, err := loadKey(f.keyFile)
	if err != nil {
		return fail("%v", err)
	}
	transport := newTransport(f.concurrency)
	defer transport.CloseIdleConnections()
	client, err := assurancehub.New(
		assurancehub.WithAPIKey(key),
		assurancehub.WithBaseURL(f.baseURL),
		assurancehub.WithHTTPClient(&http.Client{Transport: transport}),
		assurancehub.WithUserAgent("safecheck-cli/"+assurancehub.Version),
	)
	if err != nil {
		return fail("%v", err)
	}

	set, err := readInput(f.in, format, stdin)
	if err != nil {
		return fail("%v", err)
	}
	name := f.in
	if name == "-" {
		name = "stdin"
	}
	for i, p := range set.Problems {
		if i == shownProblems {
			fmt.Fprintf(stderr, "safecheck eval: ... and %s (listed in -summary-json)\n",
				words.N(len(set.Problems)-shownProblems, "more bad line", "more bad lines"))
			break
		}
		fmt.Fprintf(stderr, "%s:%d: skipped: %s\n", name, p.Line, p.Reason)
	}
	if f.strict && len(set.Problems) > 0 {
		return fail("%s in %s and -strict is set; nothing was evaluated",
			words.N(len(set.Problems), "bad input line", "bad input lines"), name)
	}
	if len(set.Cases) == 0 {
		return fail("no usable case in %s", name)
	}

	var (
		out    *os.File
		writer *results.Writer
		done   map[results.Key]results.Record
	)
	if f.out != "" {
		var resumed *results.Resumed
		out, resumed, err = results.Open(f.out, f.resume)
		if err != nil {
			return fail("%v", err)
		}
		defer out.Close()
		writer = results.NewWriter(out)
		done = resumed.Done
		if resumed.Truncated > 0 {
			fmt.Fprintf(stderr, "safecheck eval: %s ended in a partial line (%s) from an interrupted run; cut it off\n",
				f.out, words.N(int(resumed.Truncated), "byte", "bytes"))
		}
		if f.resume {
			fmt.Fprintf(stderr, "safecheck eval: resuming: %s in %s\n", words.N(resumed.Records, "record", "records"), f.out)
		}
	}

	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	attempts := rn.NewAttemptLog(safecheck.AssuranceHub(client))
	guard, err := safecheck.New(attempts,
		safecheck.WithWorkers(1), // Check calls run on our own pool; the guard samples no traffic
		safecheck.WithService("safecheck-cli"),
		safecheck.WithLogger(logger),
		safecheck.WithRateLimit(f.rate),
		safecheck.WithRetries(f.retries, backoffBase, maxBackoff, maxJitter),
		safecheck.WithMaxRetryAfter(f.maxRetryAfter),
		safecheck.WithAttemptTimeout(f.timeout),
	)
	if err != nil {
		return fail("%v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = guard.Close(ctx)
	}()

	toRun := len(set.Cases)*len(testTypes) - countDone(set.Cases, testTypes, done)
	fmt.Fprintf(stderr, "safecheck eval: %s × %s, %s to evaluate, concurrency %d\n",
		words.N(len(set.Cases), "case", "cases"), words.N(len(testTypes), "test type", "test types"),
		words.N(toRun, "pair", "pairs"), f.concurrency)
	prog, err := progress.New(stderr, toRun, progress.WithMode(mode), progress.WithInterval(f.progressInterval))
	if err != nil {
		return fail("%v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hardStop := make(chan struct{})
	go secondSignal(ctx, hardStop)

	start := time.Now()
	rep, runErr := rn.Run(ctx, guard, set.Cases,
		rn.WithTestTypes(testTypes...),
		rn.WithConcurrency(f.concurrency),
		rn.WithDone(done),
		rn.WithResults(writer),
		rn.WithProgress(prog),
		rn.WithGate(g),
		rn.WithMaxErrors(f.maxErrors),
		rn.WithGrace(f.grace),
		rn.WithHardStop(hardStop),
		rn.WithContent(f.includeContent),
		rn.WithOrdered(f.ordered),
		rn.WithAttemptLog(attempts),
	)
	prog.Finish()
	stop()
	if rep == nil { // a configuration error: the flags were validated above
		return fail("%v", runErr)
	}
	if out != nil {
		if err := out.Sync(); err != nil && runErr == nil {
			runErr = fmt.Errorf("%w: %w", rn.ErrWrite, err)
		}
	}

	s := rep.Summary
	s.Cases = len(set.Cases)
	s.InputProblems = len(set.Problems)
	for i, p := range set.Problems {
		if i == summary.MaxProblems {
			break
		}
		s.Problems = append(s.Problems, summary.Problem{Line: p.Line, Reason: p.Reason})
	}
	s.ElapsedSeconds = time.Since(start).Seconds()
	switch {
	case runErr != nil:
		s.Status, s.ExitCode, s.Reason = "error", exitError, runErr.Error()
	case rep.Interrupted:
		s.Status, s.ExitCode = "interrupted", exitError
		s.Reason = fmt.Sprintf("interrupted with %s not evaluated", words.N(rep.NotRun, "pair", "pairs"))
		if f.out != "" {
			s.Reason += "; run again with -resume to continue"
		}
	case s.GateFailures > 0:
		s.Status, s.ExitCode = "fail", exitGate
		s.Reason = fmt.Sprintf("%s %s -fail-on %s", words.N(s.GateFailures, "pair", "pairs"),
			words.Plural(s.GateFailures, "fails", "fail"), s.Gate)
	default:
		s.Status, s.ExitCode = "pass", exitOK
		if s.Errors > 0 {
			s.Reason = fmt.Sprintf("%s could not be evaluated (within -max-errors %d)",
				words.N(s.Errors, "pair", "pairs"), f.maxErrors)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "safecheck eval: %v\n", runErr)
	}
	if err := s.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "safecheck eval: write summary: %v\n", err)
		return exitError
	}
	if f.summaryJSON != "" {
		if err := writeJSON(f.summaryJSON, &s); err != nil {
			fmt.Fprintf(stderr, "safecheck eval: %v\n", err)
			return exitError
		}
	}
	return s.ExitCode
}

// secondSignal closes hardStop on the next interrupt after ctx ended with
// the first one.
func secondSignal(ctx context.Context, hardStop chan<- struct{}) {
	<-ctx.Done()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(ch)
	<-ch
	close(hardStop)
}

func parseTests(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return assurancehub.TestTypes(), nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			continue
		case !assurancehub.IsTestType(t):
			return nil, fmt.Errorf("-tests: unknown test type %q (known: %s)", t, strings.Join(assurancehub.TestTypes(), ", "))
		case contains(out, t):
			return nil, fmt.Errorf("-tests: %q listed twice", t)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("-tests: no test type given")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// inputFormat resolves -format auto by the file's extension.
func inputFormat(flagValue, path string) (cases.Format, error) {
	f, err := cases.ParseFormat(flagValue)
	if err != nil || f != cases.Auto {
		return f, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return cases.CSV, nil
	case ".jsonl", ".ndjson", ".json":
		return cases.JSONL, nil
	}
	return cases.Auto, nil
}

func readInput(path string, format cases.Format, stdin io.Reader) (*cases.Set, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read the input: %w", err)
		}
		defer f.Close()
		r = f
	}
	set, err := cases.Read(r, cases.WithFormat(format))
	if err != nil {
		return nil, fmt.Errorf("cannot read the input: %w", err)
	}
	return set, nil
}

// loadKey returns the API key from the key file, or else from the
// environment. Its errors never contain the key.
func loadKey(keyFile string) (string, error) {
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("cannot read the -key-file %s: %w", keyFile, err)
		}
		key := strings.TrimSpace(string(b))
		if key == "" {
			return "", fmt.Errorf("the -key-file %s is empty", keyFile)
		}
		return key, nil
	}
	key := strings.TrimSpace(os.Getenv(assurancehub.EnvAPIKey))
	if key == "" {
		return "", fmt.Errorf("no API key: set %s or use -key-file FILE (for a local try, run safecheck serve-fake)", assurancehub.EnvAPIKey)
	}
	return key, nil
}

// newTransport keeps one idle connection per worker, so a run reuses its
// connections instead of opening new ones.
func newTransport(concurrency int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, concurrency)
	t.MaxIdleConnsPerHost = concurrency
	t.ForceAttemptHTTP2 = true
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = tls.VersionTLS12
	return t
}

func countDone(set []cases.Case, testTypes []string, done map[results.Key]results.Record) int {
	if len(done) == 0 {
		return 0
	}
	n := 0
	for _, c := range set {
		for _, t := range testTypes {
			if _, ok := done[results.Key{ID: c.ID, TestType: t}]; ok {
				n++
			}
		}
	}
	return n
}

func writeJSON(path string, s *summary.Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the summary: %w", err)
	}
	return nil
}
