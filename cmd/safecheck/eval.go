package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
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

// shownProblems is how many input problems are printed to stderr.
const shownProblems = 20

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
