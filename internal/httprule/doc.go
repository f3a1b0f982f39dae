// Package httprule holds the HTTP rules the API client (assurancehub) and
// the webhook sink share: which hosts may be reached over plain http, and
// how a Retry-After header is read.
package httprule
