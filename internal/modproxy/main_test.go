package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// writeTree writes files (slash paths relative to dir) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunWritesAFileProxy(t *testing.T) {
	// A temporary directory is no git checkout: the files are walked.
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"go.mod":          "module example.com/core\n\ngo 1.26.0\n",
		"core.go":         "package core\n",
		"LICENSE":         "the licence\n",
		".git":            "gitdir: elsewhere\n", // a worktree's .git file
		"sub/go.mod":      "module example.com/core/sub\n\ngo 1.26.0\n\nrequire example.com/core v0.1.0\n",
		"sub/sub.go":      "package sub\n",
		"internal/x/x.go": "package x\n",
	})
	out := t.TempDir()
	var report strings.Builder
	if err := run("v0.1.0", out, []string{src, filepath.Join(src, "sub")}, &report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), "example.com/core v0.1.0 h1:") {
		t.Errorf("report %q lacks the core's hash", report.String())
	}

	for _, tt := range []struct {
		path string
		want []string
	}{
		{"example.com/core", []string{"LICENSE", "core.go", "go.mod", "internal/x/x.go"}},
		{"example.com/core/sub", []string{"go.mod", "sub.go"}},
	} {
		dir := filepath.Join(out, filepath.FromSlash(tt.path), "@v")
		for _, name := range []string{"list", "v0.1.0.info", "v0.1.0.mod", "v0.1.0.zip"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", tt.path, err)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "list")); string(b) != "v0.1.0\n" {
			t.Errorf("%s list = %q", tt.path, b)
		}
		cf, err := modzip.CheckZip(module.Version{Path: tt.path, Version: "v0.1.0"}, filepath.Join(dir, "v0.1.0.zip"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, name := range cf.Valid {
			got = append(got, strings.TrimPrefix(name, tt.path+"@v0.1.0/"))
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s zip holds %v, want %v (nested module and .git left out)", tt.path, got, tt.want)
		}
	}

	// A second run at another version adds to the list.
	if err := run("v0.2.0", out, []string{src}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "example.com", "core", "@v", "list")); string(b) != "v0.1.0\nv0.2.0\n" {
		t.Errorf("list after a second version = %q", b)
	}
}

func TestRunRefusesWhatCannotBeReleased(t *testing.T) {
	tests := []struct {
		name    string
		version string
		sub     string // go.mod of the second module
		want    string
	}{
		{"replace", "v0.1.0", "module example.com/core/sub\n\ngo 1.26.0\n\nrequire example.com/core v0.1.0\n\nreplace example.com/core => ../\n", "replace directive"},
		{"sibling at another version", "v0.1.0", "module example.com/core/sub\n\ngo 1.26.0\n\nrequire example.com/core v0.0.9\n", "requires example.com/core v0.0.9"},
		{"version not canonical", "0.1.0", "module example.com/core/sub\n\ngo 1.26.0\n", "not a canonical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			writeTree(t, src, map[string]string{
				"go.mod":     "module example.com/core\n\ngo 1.26.0\n",
				"sub/go.mod": tt.sub,
			})
			out := t.TempDir()
			err := run(tt.version, out, []string{src, filepath.Join(src, "sub")}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("wrote %d entries before refusing", len(entries))
			}
		})
	}
}
