// Package progress shows how far a safecheck CLI run has got: a live bar
// (github.com/schollz/progressbar/v3) with done/total, rate, ETA, flagged
// count and errors when the output is a terminal, and plain lines for CI
// logs otherwise, written every interval and at every 10 % of the pairs.
package progress
