// Package failure names the classes of a failed check.
//
// A checker classifies a failure with a safecheck.CheckError whose Class is
// one of these; the policies decide from it whether to retry and how long
// to wait. Stats().Failed is keyed by them and the metrics adapters label
// their series with their names.
package failure
