// Package extract turns the bytes an LLM application exchanged over HTTP
// into the prompt and response text that safecheck sends to the checker.
//
// The core's background workers call it with what the middleware captured
// (never on the request path). A check that misses text is a silent bypass,
// so extraction reads every text the client really sent or received: content
// part arrays, tool calls and tool results, refusals, and streamed responses
// reassembled from their deltas.
//
// # Formats
//
// The format of each side is found from its Content-Type and the shape of
// the body, and reported in Pair.Format (the response's format when it is a
// known wire format, else the request's, else the generic kind):
//
//   - OpenAI Chat Completions (openai.chat, openai.chat.stream): request
//     messages[] with string content or content parts, tool_calls and tool
//     messages; response choices[].message content, refusal and tool call
//     arguments; stream chunks choices[].delta.content, .refusal and
//     .tool_calls[].function.arguments, reassembled per choice and per tool
//     call index.
//   - OpenAI Responses (openai.responses, openai.responses.stream): request
//     instructions and input (a string or an item list with messages,
//     function calls and function call outputs); response output[] message
//     text, refusals and function call arguments; stream events
//     response.output_text.delta, response.refusal.delta and
//     response.function_call_arguments.delta (and their .done events).
//   - OpenAI legacy completions (openai.completions, openai.completions.stream):
//     prompt (a string or an array of strings) and choices[].text.
//   - Anthropic Messages (anthropic.messages, anthropic.messages.stream):
//     system (a string or text blocks), messages[] with string content or
//     text, tool_use (its input as JSON text) and tool_result blocks; response
//     content[] blocks; stream content_block_delta events with text_delta and
//     input_json_delta.
//   - Anything else: text/* as is (text), JSON of another shape as its string
//     values in document order (json), an event stream of another shape as
//     its events' data (sse).
//
// Texts of one side are joined with "\n"; streamed texts keep the order in
// which each choice, content block or tool call first appeared. Thinking and
// reasoning text is not extracted.
//
// # Prompt selection
//
// WithPromptSelection chooses which request text becomes Pair.Prompt:
//
//   - PromptLatestUser: the latest user turn. That is the last user message
//     that has text of its own, together with every non-assistant message
//     after it: tool results sent back to the model (OpenAI tool messages,
//     Anthropic tool_result blocks, Responses function_call_output items)
//     belong to the turn, because they are input the model reads now. When
//     no user message has text of its own, the turn starts at the last user
//     message; when there is none, it is every tool result. A Responses
//     input string and a completions prompt are the user turn.
//   - PromptLatestUserWithSystem (the default): the system text first (all
//     system and developer messages, Anthropic system, Responses
//     instructions), then the latest user turn. When both do not fit in the
//     text cap, the system text is cut first, keeping at least half the cap.
//   - PromptAllTurns: every turn in order, assistant messages and tool calls
//     included. When it is over the cap, the oldest text is cut, so that the
//     latest turn is always checked.
//
// A request body that is not a known format gives the prompt as it does for
// a response: text as is, JSON as its string values. A request that cannot
// be read (binary, undecodable) gives an empty prompt and sets Pair.PromptErr
// without failing the pair.
//
// # Robustness
//
// Content-Encoding gzip, x-gzip and deflate (zlib or raw) are decoded with a
// cap on the decompressed size (WithMaxDecodedBytes); other encodings and
// corrupt or oversized data give ErrDecode. Binary content types give
// ErrBinary. Invalid UTF-8 becomes U+FFFD. Text over the cap
// (WithMaxTextBytes) is cut at a rune boundary and the pair marked
// Truncated. A capture cut by its byte cap (Input.RequestTruncated,
// Input.ResponseTruncated), compressed data that ends early, or a stream
// without its terminal event (data: [DONE], message_stop, response.completed
// or response.incomplete) or with an error event marks the pair Partial, as
// does an event stream of another shape that ends inside an event; the text
// is still extracted, and a rune cut in half at the end is dropped. A JSON
// body cut short is closed (its last complete value kept, an open string
// value ended, open arrays and objects closed), read in its format and
// marked Partial, so that prompt selection works on a cut conversation too.
// Other JSON bodies that do not parse as one document give their string
// values all the same: those of every value of a stream of several, and
// those before the point where a body stops being JSON (a syntax error, a
// raw control character in a string), followed by the rest of the body as
// it is.
// Responses with status 1xx, 204 or 304 have no body. A response with no
// text gives ErrEmptyResponse. Error messages hold sizes, formats and
// reasons, never body content.
//
// Applications with their own wire format supply an Extractor, or an
// ExtractorFunc that may build on DecodeBody and SSEEvents.
package extract
