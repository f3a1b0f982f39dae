package main

import (
	"fmt"
	"io"
	"os"

	"github.com/safecheck/safecheck/internal/pii"
)

// Exit statuses.
const (
	exitOK    = 0 // nothing fails the gate
	exitGate  = 1 // at least one verdict fails the gate
	exitError = 2 // usage or run error
)

const usage = `safecheck checks prompt/response pairs with the AssuranceHub safety API.

Usage:
  safecheck eval -in FILE [-tests LIST] [flags]   evaluate every case for every test type
  safecheck serve-fake [-addr ADDR] [flags]       run a fake AssuranceHub API on loopback
  safecheck help [eval | serve-fake]              show help

The API key is read from ASSURANCEHUB_API_KEY or from the file given by
-key-file; it is never accepted on the command line.

Exit status: 0 nothing fails the -fail-on gate, 1 something does,
2 usage or run error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	for _, a := range args {
		if pii.ContainsKeyPrefix(a) {
			fmt.Fprintln(stderr, "safecheck: an API key was given on the command line; it is never accepted there "+
				"(command lines end up in shell history and process lists): set ASSURANCEHUB_API_KEY or use -key-file")
			return exitError
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	switch args[0] {
	case "eval":
		return evalCmd(args[1:], stdin, stdout, stderr)
	case "serve-fake":
		return serveFakeCmd(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			switch args[1] {
			case "eval":
				return evalCmd([]string{"-h"}, stdin, stdout, stdout)
			case "serve-fake":
				return serveFakeCmd([]string{"-h"}, stdout, stdout)
			}
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "safecheck: unknown command %q\n\n%s", args[0], usage)
	return exitError
}
