// Package results reads and writes the safecheck CLI's results file: JSON
// Lines with one Record per case and test type.
//
// A Writer writes each record as one complete line in a single write, so
// an interrupted run leaves at most one partial line at the end. Open with
// resume reads the records back, repairs such a partial last line by
// truncating it, and positions the file for appending, which is what
// lets an interrupted run continue where it stopped.
package results
