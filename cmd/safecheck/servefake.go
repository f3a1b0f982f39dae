package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/words"
)

const serveFakeUsage = `Usage: safecheck serve-fake [flags]

Runs a fake AssuranceHub API (package assurancehubtest) on a loopback
address until interrupted. It prints the two exports that point eval and
the middleware at it (ASSURANCEHUB_BASE_URL and ASSURANCEHUB_API_KEY, the
test key it accepts) and flags pairs by a small built-in list of trigger
phrases.

Flags:
`

func serveFakeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("safecheck serve-fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveFakeUsage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8089", "loopback `address` to listen on (port 0 picks a free one)")
	latency := fs.Duration("latency", 0, "wait this long before every answer, like a real panel of judge models")
	rateLimit := fs.Int("rate-limit", 0, "answer 429 above `n` requests per second (0: no limit)")
	retryAfter := fs.String("retry-after", "1", "Retry-After header of those 429 answers (empty: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "safecheck serve-fake: unexpected arguments after the flags")
		return exitError
	}
	if err := checkLoopback(*addr); err != nil {
		fmt.Fprintf(stderr, "safecheck serve-fake: %v\n", err)
		return exitError
	}
	if *latency < 0 || *rateLimit < 0 {
		fmt.Fprintln(stderr, "safecheck serve-fake: -latency and -rate-limit must not be negative")
		return exitError
	}
	for i := 0; i < len(*retryAfter); i++ {
		if b := (*retryAfter)[i]; b < ' ' || b == 0x7f {
			fmt.Fprintln(stderr, "safecheck serve-fake: -retry-after contains control characters")
			return exitError
		}
	}

	srv, err := assurancehubtest.NewServer(assurancehubtest.WithAddr(*addr))
	if err != nil {
		fmt.Fprintf(stderr, "safecheck serve-fake: %v\n", err)
		return exitError
	}
	defer srv.Close()
	srv.SetLatency(*latency)
	if *rateLimit > 0 {
		srv.SetRateLimit(*rateLimit, *retryAfter)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "fake AssuranceHub API listening on %s\n", srv.URL)
	fmt.Fprintf(stdout, "test key (fake, accepted only here): %s\n\n", assurancehubtest.TestAPIKey)
	fmt.Fprintf(stdout, "paste into another shell:\n  export %s=%s\n  export %s=%s\nthen try:\n  safecheck eval -in cases.jsonl -tests toxicity,pii\n\n",
		assurancehub.EnvBaseURL, srv.URL, assurancehub.EnvAPIKey, assurancehubtest.TestAPIKey)
	fmt.Fprintln(stdout, "press Ctrl-C to stop")
	<-ctx.Done()

	served := srv.TotalRequests()
	srv.Close()
	fmt.Fprintf(stdout, "stopped after %s\n", words.N(served, "request", "requests"))
	return exitOK
}

// checkLoopback refuses addresses other than loopback ones: the fake
// accepts a published test key and must not be reachable from elsewhere.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("-addr %q: serve-fake listens on loopback addresses only (127.0.0.1, [::1] or localhost)", addr)
	}
	return nil
}
