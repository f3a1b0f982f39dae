// Package outbound shows and tests safecheck's outbound transport with the
// official OpenAI and Anthropic Go SDKs: Route.Transport as the SDK's HTTP
// client's transport, ContextWithIDs on the context of each call. Its tests
// point the real SDKs at a loopback server that speaks each API's wire
// format, JSON and event streams; the programs in openai/ and anthropic/
// are the quick starts of the README.
//
// It is a module of its own, so that the SDKs never reach the core
// module's requirements.
package outbound
