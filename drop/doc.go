// Package drop names the reasons a sampled exchange is not checked.
//
// A safecheck.Guard counts every sample it does not check under one
// Reason: Stats().Dropped and RouteStats.Dropped are keyed by them, the
// metrics adapters label their series with their names, and an adapter
// that gives up on a capture passes one to Capture.Abort.
package drop
