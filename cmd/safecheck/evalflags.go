package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/progress"
	rn "github.com/safecheck/safecheck/cmd/safecheck/internal/run"
)

const evalUsage = `Usage: safecheck eval -in FILE [flags]

Evaluates every case of FILE (JSON Lines or CSV with a header row; "-" for
standard input) for every test type, and prints a summary. See
"go doc github.com/safecheck/safecheck/cmd/safecheck" for the formats.

Flags:
`

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
