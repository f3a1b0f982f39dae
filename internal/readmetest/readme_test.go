package readmetest

// TestREADMEGoBlocksCompile compiles every ```go fenced block of README.md.
//
// How a block is compiled:
//
//   - A block whose first line that is not blank or a comment starts with
//     "package" is a whole file: it is compiled as it stands, as a package
//     of its own (a program, if it says package main).
//   - Any other block is a fragment: statements, as in the body of a
//     function. It is compiled as the body of func _() in a package of its
//     own. Imports are added for the package names it uses (see imports
//     below; a name missing there is reported as undefined), and it may use
//     the names in givens below without declaring them, as README
//     fragments do (mux, r, guard, ...). A fragment that declares one of
//     them uses its own.
//
// Blocks that are not meant to compile (pseudo-code, output) are fenced as
// something other than go, such as ```text. Errors point at README.md
// lines (a //line directive precedes each block). The blocks are compiled
// with go build -overlay against this module, which go.work ties to the
// checkout, so nothing is written into the tree.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// imports maps the package names fragments may use to their import paths.
// Every path outside the standard library is imported by deps.go too.
var imports = map[string]string{
	"context":          "context",
	"errors":           "errors",
	"fmt":              "fmt",
	"io":               "io",
	"json":             "encoding/json",
	"log":              "log",
	"slog":             "log/slog",
	"http":             "net/http",
	"httptest":         "net/http/httptest",
	"os":               "os",
	"signal":           "os/signal",
	"strings":          "strings",
	"syscall":          "syscall",
	"time":             "time",
	"safecheck":        "github.com/safecheck/safecheck",
	"admin":            "github.com/safecheck/safecheck/admin",
	"assurancehub":     "github.com/safecheck/safecheck/assurancehub",
	"assurancehubtest": "github.com/safecheck/safecheck/assurancehubtest",
	"extract":          "github.com/safecheck/safecheck/extract",
	"drop":             "github.com/safecheck/safecheck/drop",
	"escalation":       "github.com/safecheck/safecheck/escalation",
	"alert":            "github.com/safecheck/safecheck/alert",
	"event":            "github.com/safecheck/safecheck/event",
	"failure":          "github.com/safecheck/safecheck/failure",
	"scrub":            "github.com/safecheck/safecheck/scrub",
	"webhook":          "github.com/safecheck/safecheck/webhook",
	"safecheckgin":     "github.com/safecheck/safecheck/adapters/gin",
	"safecheckotel":    "github.com/safecheck/safecheck/adapters/otel",
	"safecheckprom":    "github.com/safecheck/safecheck/adapters/prometheus",
	"safecheckredis":   "github.com/safecheck/safecheck/adapters/redis",
	"coord":            "github.com/safecheck/safecheck/coord",
	"redis":            "github.com/redis/go-redis/v9",
	"gin":              "github.com/gin-gonic/gin",
	"prometheus":       "github.com/prometheus/client_golang/prometheus",
	"promhttp":         "github.com/prometheus/client_golang/prometheus/promhttp",
	"openai":           "github.com/openai/openai-go/v3",
	"option":           "github.com/openai/openai-go/v3/option",
	"anthropic":        "github.com/anthropics/anthropic-sdk-go",
	"anthropicoption":  "github.com/anthropics/anthropic-sdk-go/option",
	"otel":             "go.opentelemetry.io/otel",
	"sdkmetric":        "go.opentelemetry.io/otel/sdk/metric",
}

// givens are the names a fragment may use undeclared: what the surrounding
// program of a README fragment is understood to have. Each is a package
// variable of the given type; the type's package is imported with it.
var givens = map[string]struct{ typ, pkg string }{
	"mux":         {"*http.ServeMux", "http"},
	"r":           {"*gin.Engine", "gin"},
	"guard":       {"*safecheck.Guard", "safecheck"},
	"client":      {"*assurancehub.Client", "assurancehub"},
	"chatHandler": {"http.Handler", "http"},
	"ctx":         {"context.Context", "context"},
}

// block is one ```go fenced block of a Markdown file.
type block struct {
	line int // of the block's first line of code, 1-based
	code string
}

func TestREADMEGoBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	readme, err := filepath.Abs(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(text))
	if len(blocks) < 4 {
		t.Fatalf("README.md has %d ```go blocks; expected the quick starts and more", len(blocks))
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	moduleDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}

	tmp := t.TempDir()
	replace := make(map[string]string)
	var pkgs []string
	for i, b := range blocks {
		src, err := compilable(b, "README.md")
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		name := fmt.Sprintf("block%02d", i+1)
		file := filepath.Join(tmp, name+".go")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		// The package exists only in the overlay; "_" keeps it out of ./...
		replace[filepath.Join(moduleDir, "_readme", name, "block.go")] = file
		pkgs = append(pkgs, "./_readme/"+name)
	}
	if t.Failed() {
		return
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	// -o: the programs go to tmp, never into this directory.
	args := []string{"build", "-overlay", overlayFile, "-o", filepath.Join(tmp, "bin") + string(filepath.Separator)}
	cmd := exec.Command(goTool, append(args, pkgs...)...)
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's go blocks do not compile (%v):\n%s", err, out)
	}
	t.Logf("%d blocks of README.md compile", len(blocks))
}

// goBlocks returns the ```go fenced blocks of a Markdown text, with the
// fence's indentation removed from their lines. Fences of other kinds are
// skipped whole, so a ```go line inside one is not a block.
func goBlocks(md string) []block {
	var (
		blocks []block
		cur    *block
		lines  []string
		indent string
		inside bool
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case !inside && strings.HasPrefix(trimmed, "```"):
			inside = true
			if strings.TrimSpace(strings.TrimPrefix(trimmed, "```")) == "go" {
				cur, lines, indent = &block{line: n + 1}, nil, line[:len(line)-len(trimmed)]
			}
		case inside && strings.TrimSpace(line) == "```":
			inside = false
			if cur != nil {
				cur.code = strings.Join(lines, "\n") + "\n"
				blocks = append(blocks, *cur)
				cur = nil
			}
		case cur != nil:
			lines = append(lines, strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

// compilable returns a Go file that compiles b as the conventions above say,
// with positions reported against file.
func compilable(b block, file string) (string, error) {
	directive := fmt.Sprintf("//line %s:%d\n", file, b.line)
	if isWholeFile(b.code) {
		return directive + b.code, nil
	}
	body := "func _() {\n" + directive + b.code + "}\n"
	f, err := parser.ParseFile(token.NewFileSet(), file, "package p\n"+body, parser.AllErrors)
	if err != nil {
		return "", fmt.Errorf("not a whole file (no package clause) and not statements: %w", err)
	}
	need := make(map[string]bool) // package names to import
	var vars []string
	for _, name := range unresolved(f) {
		if g, ok := givens[name]; ok {
			vars = append(vars, fmt.Sprintf("var %s %s\n", name, g.typ))
			need[g.pkg] = true
		} else if _, ok := imports[name]; ok {
			need[name] = true
		}
	}
	var src strings.Builder
	src.WriteString("package p\n\nimport (\n")
	for _, name := range slices.Sorted(maps.Keys(need)) {
		fmt.Fprintf(&src, "\t%s %q\n", name, imports[name])
	}
	src.WriteString(")\n\n")
	for _, v := range vars {
		src.WriteString(v)
	}
	src.WriteString("\n" + body)
	return src.String(), nil
}

// isWholeFile reports whether code's first line that is neither blank nor a
// line comment starts with a package clause.
func isWholeFile(code string) bool {
	for line := range strings.SplitSeq(code, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		return strings.HasPrefix(line, "package ")
	}
	return false
}

// unresolved lists, sorted and once each, the identifiers f uses without
// declaring them: package names, predeclared names and givens.
func unresolved(f *ast.File) []string {
	seen := make(map[string]bool)
	for _, id := range f.Unresolved {
		seen[id.Name] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

func TestCompilable(t *testing.T) {
	frag := block{line: 7, code: "mux.Handle(\"/\", http.NotFoundHandler())\nc, err := safecheckprom.NewCollector(guard)\n_, _ = c, err\n"}
	src, err := compilable(frag, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`http "net/http"`,
		`safecheck "github.com/safecheck/safecheck"`,
		`safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"`,
		"var guard *safecheck.Guard\n",
		"var mux *http.ServeMux\n",
		"func _() {\n//line README.md:7\nmux.Handle(",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("fragment file lacks %q:\n%s", want, src)
		}
	}
	if strings.Contains(src, "var r ") || strings.Contains(src, "gin") {
		t.Errorf("fragment file declares or imports what the fragment does not use:\n%s", src)
	}

	// A fragment that declares a given uses its own.
	own, err := compilable(block{line: 1, code: "guard := 1\n_ = guard\n"}, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(own, "var guard") {
		t.Errorf("a declared guard was predeclared too:\n%s", own)
	}

	whole := block{line: 3, code: "// Comment.\npackage main\n\nfunc main() {}\n"}
	if src, err := compilable(whole, "README.md"); err != nil || src != "//line README.md:3\n"+whole.code {
		t.Errorf("whole file = %q, %v; want it as it stands after a //line directive", src, err)
	}
	if _, err := compilable(block{line: 1, code: "func f() {}\n"}, "README.md"); err == nil {
		t.Error("a declaration without a package clause was accepted as a fragment")
	}
}

func TestGoBlocks(t *testing.T) {
	md := strings.Join([]string{
		"# Title",       // 1
		"```go",         // 2
		"a := 1",        // 3
		"```",           // 4
		"```sh",         // 5
		"go test ./...", // 6
		"```",           // 7
		"```markdown",   // 8
		"```go",         // 9: inside another fence, not a block
		"```",           // 10
		"- item:",       // 11
		"  ```go",       // 12
		"  b := 2",      // 13
		"  ```",         // 14
		"```go",         // 15
		"package main",  // 16
		"```",           // 17
	}, "\n")
	got := goBlocks(md)
	want := []block{{3, "a := 1\n"}, {13, "b := 2\n"}, {16, "package main\n"}}
	if !slices.Equal(got, want) {
		t.Errorf("goBlocks = %+v, want %+v", got, want)
	}
}
