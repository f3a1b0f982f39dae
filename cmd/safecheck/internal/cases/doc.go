// Package cases reads the prompt/response pairs that the safecheck CLI
// evaluates, from JSON Lines or from CSV with a header row.
//
// Input is untrusted: a line that cannot be used (malformed JSON, a missing
// or mistyped field, invalid UTF-8, an empty prompt or response, a
// duplicate id, an over-long line) never stops the reading. It becomes a
// Problem that names its line number and the reason, and reading goes on.
// Only a failure to read at all, or a CSV header without the required
// columns, is an error. Problems never quote the content of the line.
package cases
