// Package syncbuf provides a bytes.Buffer that is safe for concurrent use,
// for tests that read a log sink while background workers write to it.
package syncbuf
