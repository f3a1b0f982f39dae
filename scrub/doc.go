// Package scrub masks personal data and credentials in text: e-mail
// addresses, phone numbers, card numbers that pass the Luhn check, API keys
// and bearer tokens, each replaced by one of the Mask constants.
//
// A Guard sends text through a scrubber before it is checked when it is
// built with
//
//	safecheck.WithScrubber(scrub.Text)
//
// Scrubbing is off by default: it changes what the safety API evaluates
// and can change its verdicts (a pii check of scrubbed text no longer sees
// the personal data it is meant to find).
//
// Text recognises the shapes by the same rules as safecheck's log
// redactor (internal/pii), so that a customer id the redactor hashes is one
// that Text masks whole. Recognition is by shape only, and every pass is
// linear in the length of the text, which comes from end users.
package scrub
