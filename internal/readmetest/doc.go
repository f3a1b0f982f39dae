// Package readmetest holds one test: every ```go block of the repository's
// README.md compiles against the modules of this checkout (see
// readme_test.go for how a block is compiled). It is a module of its own,
// in go.work and never released, so that its requirements (gin,
// Prometheus, OpenTelemetry: whatever the README's examples import) stay out
// of the core module.
package readmetest
