// Package pii recognises the shapes of personal data and credentials that
// safecheck keeps out of its logs and, when asked, out of the text it sends:
// e-mail addresses, phone numbers, AssuranceHub API keys and bearer tokens.
//
// The log redactor, the content scrubber, the API client and the CLI all
// ask this package, so that they never disagree on what is an e-mail
// address, a phone number or a key. Recognition is by shape only.
package pii
