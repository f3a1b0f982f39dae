package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/cases"
	"github.com/safecheck/safecheck/cmd/safecheck/internal/summary"
)

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
