// Command modproxy writes a module proxy on disk, the layout that
// GOPROXY=file:///DIR serves, holding modules of this checkout at one
// version. It lets `go get` and `go install pkg@version` be tried from
// outside the checkout before anything is tagged (.ci/proxy-install.sh),
// and lets a released module be tidied against its siblings' next version
// (RELEASING.md).
//
//	go run ./internal/modproxy -version v0.1.0 -o DIR . adapters/gin adapters/otel
//
// Each argument is a module directory. For each, modproxy writes
// DIR/<escaped module path>/@v/{list,VERSION.info,VERSION.mod,VERSION.zip}.
// The zip holds what tagging the working tree would publish: in a git
// checkout, the files git tracks or would add (ignored files are left out),
// as they are on disk; nested modules and vendor directories are left out as
// the go command leaves them out; a module without a LICENSE of its own gets
// the repository's, as the go command's own zips of a subdirectory do.
//
// It refuses a module whose go.mod has a replace directive (go install
// pkg@version refuses those too) or requires another of the given modules at
// a version other than -version.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func main() {
	version := flag.String("version", "", "the `version` to publish every module at, such as v0.1.0")
	out := flag.String("o", "", "the proxy `directory` to write (created if missing)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: modproxy -version VERSION -o DIR MODULE_DIR...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version == "" || *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*version, *out, flag.Args(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

// mod is one module to publish.
type mod struct {
	dir  string // absolute
	path string
	file *modfile.File
	raw  []byte
}

func run(version, out string, dirs []string, stdout io.Writer) error {
	if module.CanonicalVersion(version) != version {
		return fmt.Errorf("-version %q is not a canonical semantic version such as v0.1.0", version)
	}
	var mods []mod
	for _, d := range dirs {
		m, err := readModule(d)
		if err != nil {
			return err
		}
		mods = append(mods, m)
	}
	published := make(map[string]bool)
	for _, m := range mods {
		published[m.path] = true
	}
	for _, m := range mods {
		if err := checkReleasable(m, version, published); err != nil {
			return err
		}
	}
	for _, m := range mods {
		h, n, err := publish(m, version, out)
		if err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
		fmt.Fprintf(stdout, "%s %s %s (%d files)\n", m.path, version, h, n)
	}
	return nil
}

func readModule(dir string) (mod, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return mod{}, err
	}
	name := filepath.Join(abs, "go.mod")
	raw, err := os.ReadFile(name)
	if err != nil {
		return mod{}, err
	}
	f, err := modfile.Parse(name, raw, nil)
	if err != nil {
		return mod{}, err
	}
	if f.Module == nil {
		return mod{}, fmt.Errorf("%s: no module directive", name)
	}
	return mod{dir: abs, path: f.Module.Mod.Path, file: f, raw: raw}, nil
}

// checkReleasable refuses what would break `go install pkg@version` or
// leave the published modules requiring something other than each other.
func checkReleasable(m mod, version string, published map[string]bool) error {
	if len(m.file.Replace) > 0 {
		r := m.file.Replace[0]
		return fmt.Errorf("%s: go.mod replaces %s: a released module carries no replace directive (go.work ties the checkout together)", m.path, r.Old.Path)
	}
	for _, r := range m.file.Require {
		if published[r.Mod.Path] && r.Mod.Version != version {
			return fmt.Errorf("%s: go.mod requires %s %s, not the version being published (%s)", m.path, r.Mod.Path, r.Mod.Version, version)
		}
	}
	return nil
}

// publish writes m at version into the proxy directory out and returns the
// zip's go.sum hash and its number of files.
func publish(m mod, version, out string) (string, int, error) {
	escaped, err := module.EscapePath(m.path)
	if err != nil {
		return "", 0, err
	}
	dir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	files, err := moduleFiles(m.dir)
	if err != nil {
		return "", 0, err
	}
	var buf bytes.Buffer
	mv := module.Version{Path: m.path, Version: version}
	if err := modzip.Create(&buf, mv, files); err != nil {
		return "", 0, err
	}
	zipName := filepath.Join(dir, version+".zip")
	if err := os.WriteFile(zipName, buf.Bytes(), 0o644); err != nil {
		return "", 0, err
	}
	checked, err := modzip.CheckZip(mv, zipName)
	if err != nil {
		return "", 0, err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, version+".info"), info, 0o644); err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, version+".mod"), m.raw, 0o644); err != nil {
		return "", 0, err
	}
	if err := addToList(filepath.Join(dir, "list"), version); err != nil {
		return "", 0, err
	}
	h, err := dirhash.HashZip(zipName, dirhash.Hash1)
	return h, len(checked.Valid), err
}

// addToList adds version to a proxy's list file unless it is there.
func addToList(name, version string) error {
	b, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	lines := strings.Fields(string(b))
	if slices.Contains(lines, version) {
		return nil
	}
	lines = append(lines, version)
	return os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// moduleFiles lists the files of the module in dir as they would be tagged.
func moduleFiles(dir string) ([]modzip.File, error) {
	top, err := gitTop(dir)
	if err != nil {
		return walkFiles(dir)
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name", "--", ".")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	listed, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	rel, err := filepath.Rel(top, dir)
	if err != nil {
		return nil, err
	}
	prefix := filepath.ToSlash(rel) + "/"
	if rel == "." {
		prefix = ""
	}
	var files []modzip.File
	seen := make(map[string]bool)
	haveLicense := false
	for name := range strings.SplitSeq(strings.TrimSuffix(string(listed), "\x00"), "\x00") {
		p, ok := strings.CutPrefix(name, prefix)
		if !ok || seen[p] {
			continue // ls-files lists a file once per merge stage
		}
		full := filepath.Join(top, filepath.FromSlash(name))
		info, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree: not part of the next commit
		}
		if err != nil {
			return nil, err
		}
		seen[p] = true
		files = append(files, diskFile{path: p, name: full, info: info})
		haveLicense = haveLicense || p == "LICENSE"
	}
	if !haveLicense && prefix != "" {
		if info, err := os.Lstat(filepath.Join(top, "LICENSE")); err == nil {
			files = append(files, diskFile{path: "LICENSE", name: filepath.Join(top, "LICENSE"), info: info})
		}
	}
	return files, nil
}

// gitTop returns the top of the git work tree holding dir.
func gitTop(dir string) (string, error) {
	cmd := exec.Command("git", "rev-parse", "--show-toplevel")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return filepath.Abs(strings.TrimSpace(string(out)))
}

// walkFiles lists every file under dir except VCS directories, for a tree
// that is not a git checkout; modzip.Create leaves out nested modules.
// Without a repository there is no root LICENSE to add to a nested module.
func walkFiles(dir string) ([]modzip.File, error) {
	var files []modzip.File
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch d.Name() {
		case ".git", ".hg", ".svn", ".bzr": // .git is a file in a git worktree
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, name)
		if err != nil {
			return err
		}
		files = append(files, diskFile{path: filepath.ToSlash(rel), name: name, info: info})
		return nil
	})
	return files, err
}

// diskFile is a modzip.File read from disk.
type diskFile struct {
	path string // slash-separated, relative to the module root
	name string // on disk
	info fs.FileInfo
}

func (f diskFile) Path() string                 { return f.path }
func (f diskFile) Lstat() (fs.FileInfo, error)  { return f.info, nil }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.name) }
