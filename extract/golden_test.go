package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*/want.json from the current output")

// goldenBody describes one captured body of a golden case.
type goldenBody struct {
	File            string `json:"file"`
	ContentType     string `json:"content_type"`
	ContentEncoding string `json:"content_encoding,omitempty"`
	Truncated       bool   `json:"truncated"`
}

// goldenCase is testdata/golden/<name>/case.json.
type goldenCase struct {
	Status   int         `json:"status"`
	Request  *goldenBody `json:"request"`
	Response *goldenBody `json:"response"`
}

// goldenWant is testdata/golden/<name>/want.json: the expected pair for
// every prompt selection.
type goldenWant struct {
	Format           string `json:"format"`
	Prompt           string `json:"prompt"`             // PromptLatestUserWithSystem (default)
	PromptLatestUser string `json:"prompt_latest_user"` // PromptLatestUser
	PromptAllTurns   string `json:"prompt_all_turns"`   // PromptAllTurns
	Response         string `json:"response"`
	Partial          bool   `json:"partial"`
	Truncated        bool   `json:"truncated"`
	Error            string `json:"error"` // name of the sentinel error, or ""
}

func errName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBinary):
		return "ErrBinary"
	case errors.Is(err, ErrDecode):
		return "ErrDecode"
	case errors.Is(err, ErrEmptyResponse):
		return "ErrEmptyResponse"
	}
	return "unexpected: " + err.Error()
}

// loadGolden reads a golden case directory into an Input.
func loadGolden(t testing.TB, dir string) Input {
	t.Helper()
	var c goldenCase
	readJSON(t, filepath.Join(dir, "case.json"), &c)
	in := Input{ResponseStatus: c.Status}
	if b := c.Request; b != nil {
		in.RequestBody = readFile(t, filepath.Join(dir, b.File))
		in.RequestContentType, in.RequestContentEncoding, in.RequestTruncated = b.ContentType, b.ContentEncoding, b.Truncated
	}
	if b := c.Response; b != nil {
		in.ResponseBody = readFile(t, filepath.Join(dir, b.File))
		in.ResponseContentType, in.ResponseContentEncoding, in.ResponseTruncated = b.ContentType, b.ContentEncoding, b.Truncated
	}
	return in
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(readFile(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func goldenDirs(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	return dirs
}

func mustNew(t testing.TB, opts ...Option) Extractor {
	t.Helper()
	x, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestGolden runs every case under testdata/golden through the extractor
// with each prompt selection and compares with want.json.
func TestGolden(t *testing.T) {
	latest := mustNew(t, WithPromptSelection(PromptLatestUser))
	all := mustNew(t, WithPromptSelection(PromptAllTurns))
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := loadGolden(t, dir)
			p, err := Extract(in)
			pl, errL := latest.Extract(in)
			pa, errA := all.Extract(in)
			if errName(errL) != errName(err) || errName(errA) != errName(err) {
				t.Fatalf("errors differ by selection: %v / %v / %v", err, errL, errA)
			}
			got := goldenWant{
				Format: p.Format, Prompt: p.Prompt, PromptLatestUser: pl.Prompt, PromptAllTurns: pa.Prompt,
				Response: p.Response, Partial: p.Partial, Truncated: p.Truncated, Error: errName(err),
			}
			for _, s := range []string{got.Prompt, got.PromptLatestUser, got.PromptAllTurns, got.Response} {
				if !utf8.ValidString(s) {
					t.Errorf("invalid UTF-8 in output %q", s)
				}
			}
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(got); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(wantPath, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var want goldenWant
			readJSON(t, wantPath, &want)
			if got != want {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("mismatch\n got: %s\nwant: %s", g, w)
			}
			if err != nil && strings.Contains(err.Error(), "{") {
				t.Errorf("error message looks like it carries body content: %v", err)
			}
		})
	}
}
