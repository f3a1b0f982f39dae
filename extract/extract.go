package extract

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// Input is what the middleware captured from one exchange.
type Input struct {
	RequestBody             []byte
	RequestContentType      string // raw header value
	RequestContentEncoding  string // raw header value ("gzip", "deflate", "", ...)
	RequestTruncated        bool   // capture hit its byte cap
	ResponseBody            []byte
	ResponseContentType     string
	ResponseContentEncoding string
	ResponseTruncated       bool
	ResponseStatus          int // 1xx, 204 and 304 mean no body; 0 means unknown
}

// Pair is the text to be checked.
type Pair struct {
	// Prompt is the request text the prompt selection chose, valid UTF-8
	// of at most the text cap.
	Prompt string
	// Response is the response text, valid UTF-8 of at most the text cap.
	Response string
	// Format names the wire format the exchange was read as: one of the
	// Format constants.
	Format string
	// Partial is set when a stream was cut short (no terminal event, or an
	// error event) or a capture was truncated: the pair is checked anyway,
	// and marked.
	Partial bool
	// Truncated is set when the prompt or the response text was cut to the
	// text cap at a rune boundary.
	Truncated bool
	// PromptErr says why the request side gave no prompt text although it
	// had a body (wrapping ErrBinary or ErrDecode), or is nil. A request side
	// that fails does not fail the pair.
	PromptErr error
}

// Formats reported in Pair.Format.
const (
	// FormatOpenAIChat is an OpenAI Chat Completions exchange.
	FormatOpenAIChat = "openai.chat"
	// FormatOpenAIChatStream is an OpenAI Chat Completions streamed response.
	FormatOpenAIChatStream = "openai.chat.stream"
	// FormatOpenAIResponses is an OpenAI Responses API exchange.
	FormatOpenAIResponses = "openai.responses"
	// FormatOpenAIResponsesStream is an OpenAI Responses API streamed response.
	FormatOpenAIResponsesStream = "openai.responses.stream"
	// FormatOpenAICompletions is an OpenAI legacy completions exchange.
	FormatOpenAICompletions = "openai.completions"
	// FormatOpenAICompletionsStream is an OpenAI legacy completions streamed
	// response.
	FormatOpenAICompletionsStream = "openai.completions.stream"
	// FormatAnthropicMessages is an Anthropic Messages exchange.
	FormatAnthropicMessages = "anthropic.messages"
	// FormatAnthropicMessagesStream is an Anthropic Messages streamed response.
	FormatAnthropicMessagesStream = "anthropic.messages.stream"
	// FormatText is plain text, taken as is.
	FormatText = "text"
	// FormatJSON is JSON of another shape, read as its string values.
	FormatJSON = "json"
	// FormatSSE is an event stream of another shape, read as its events'
	// data.
	FormatSSE = "sse"
)

// Sentinel errors, for callers that count skipped samples by reason with
// errors.Is. Error messages never hold body content.
var (
	// ErrBinary reports a response of a binary content type (image/*,
	// audio/*, video/*, application/octet-stream, application/pdf, ...).
	ErrBinary = errors.New("extract: binary content")
	// ErrEmptyResponse reports a response with no text at all after
	// extraction.
	ErrEmptyResponse = errors.New("extract: no response text")
	// ErrDecode reports a body whose Content-Encoding is not supported or
	// whose compressed data is corrupt or decompresses past the cap.
	ErrDecode = errors.New("extract: cannot decode body")
)

// Extractor turns a captured exchange into the text to check.
type Extractor interface {
	Extract(in Input) (Pair, error)
}

// ExtractorFunc adapts a function to the Extractor interface.
type ExtractorFunc func(in Input) (Pair, error)

// Extract calls f(in).
func (f ExtractorFunc) Extract(in Input) (Pair, error) { return f(in) }

// New returns the default extractor, which reads every format this package
// knows, configured by opts. It fails on a nil or out-of-range option.
func New(opts ...Option) (Extractor, error) {
	c := config{maxText: DefaultMaxTextBytes, maxDecoded: DefaultMaxDecodedBytes, selection: PromptLatestUserWithSystem}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("extract: option %d is nil", i+1)
		}
		o.apply(&c)
	}
	var errs []error
	if c.maxText <= 0 {
		errs = append(errs, fmt.Errorf("extract: WithMaxTextBytes(%d): must be positive", c.maxText))
	}
	if c.maxDecoded <= 0 {
		errs = append(errs, fmt.Errorf("extract: WithMaxDecodedBytes(%d): must be positive", c.maxDecoded))
	}
	switch c.selection {
	case PromptLatestUser, PromptLatestUserWithSystem, PromptAllTurns:
	default:
		errs = append(errs, fmt.Errorf("extract: WithPromptSelection(%d): unknown selection", int(c.selection)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &extractor{cfg: c}, nil
}

var defaultExtractor = &extractor{cfg: config{maxText: DefaultMaxTextBytes, maxDecoded: DefaultMaxDecodedBytes, selection: PromptLatestUserWithSystem}}

// Extract extracts in with the default extractor, as New() builds it.
func Extract(in Input) (Pair, error) {
	return defaultExtractor.Extract(in)
}

type extractor struct {
	cfg config
}

// maxKeptTurns is the most turns and pieces a pooled jdoc keeps room for.
const maxKeptTurns = 4096

// docPool keeps parsed-document buffers between calls.
var docPool = sync.Pool{New: func() any { return new(jdoc) }}

// side is what one body gave.
type side struct {
	text      []byte
	format    string
	known     bool // format is a specific wire format, not text/json/sse
	partial   bool
	truncated bool
	err       error
}

// Extract implements Extractor. Errors wrap ErrBinary, ErrDecode or
// ErrEmptyResponse and concern the response side; the returned Pair still
// holds what was found (format, prompt, flags) for the caller's records.
func (x *extractor) Extract(in Input) (Pair, error) {
	d := docPool.Get().(*jdoc)
	defer func() {
		d.release()
		if cap(d.nodes) <= 1<<16 {
			docPool.Put(d)
		}
	}()
	req := x.request(d, &in)
	resp := x.response(d, &in)

	// One string holds both texts: one allocation and one copy for the pair.
	var both strings.Builder
	both.Grow(len(req.text) + len(resp.text))
	both.Write(req.text)
	both.Write(resp.text)
	texts := both.String()
	p := Pair{
		Prompt:    texts[:len(req.text)],
		Response:  texts[len(req.text):],
		Partial:   req.partial || resp.partial || in.RequestTruncated || in.ResponseTruncated,
		Truncated: req.truncated || resp.truncated,
		PromptErr: req.err,
	}
	switch {
	case resp.known:
		p.Format = resp.format
	case req.known:
		p.Format = req.format
	case resp.format != "":
		p.Format = resp.format
	default:
		p.Format = req.format
	}
	if resp.err != nil {
		return p, resp.err
	}
	if isBlank(resp.text) {
		return p, fmt.Errorf("%w (%d body bytes)", ErrEmptyResponse, len(in.ResponseBody))
	}
	return p, nil
}

// body decodes and classifies one side's captured bytes. On failure it
// sets s.err and returns kindEmpty.
func (x *extractor) body(raw []byte, contentType, encoding string, truncated bool, s *side) ([]byte, bodyKind) {
	if len(raw) == 0 {
		return nil, kindEmpty
	}
	mt := mediaType(contentType)
	if isBinaryType(mt) {
		s.err = fmt.Errorf("%w (%d bytes)", ErrBinary, len(raw))
		return nil, kindEmpty
	}
	body, err := DecodeBody(raw, encoding, x.cfg.maxDecoded)
	if err != nil {
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			s.err = err
			return nil, kindEmpty
		}
		s.partial = true
		truncated = true
	}
	kind := classifyMedia(mt, body)
	switch {
	case kind == kindBinary:
		s.err = fmt.Errorf("%w (%d bytes)", ErrBinary, len(body))
		return nil, kindEmpty
	case truncated || kind == kindSSE:
		// A stream may be cut anywhere even when the capture is whole
		// (the client went away): drop a rune cut in half at the end.
		body = trimCutRune(body)
	}
	return body, kind
}

// request reads the prompt side.
func (x *extractor) request(d *jdoc, in *Input) side {
	var s side
	body, kind := x.body(in.RequestBody, in.RequestContentType, in.RequestContentEncoding, in.RequestTruncated, &s)
	body = trimBOM(body)
	switch kind {
	case kindJSON:
		parsed := parseJSON(d, body, &s)
		if parsed {
			r := reqParse{d: d, turns: d.turns[:0], pieces: d.pieces[:0]}
			ok := r.parse()
			if ok {
				s.format, s.known = r.format, true
				s.text, s.truncated = r.prompt(x.cfg.selection, x.cfg.maxText, x.limit())
			}
			if cap(r.turns) <= maxKeptTurns && cap(r.pieces) <= maxKeptTurns {
				d.turns, d.pieces = r.turns[:0], r.pieces[:0]
			}
			if ok {
				return s
			}
		}
		s.format = FormatJSON
		s.text, s.truncated = x.finish(x.jsonStrings(d, parsed, body))
	case kindText, kindSSE:
		s.format = FormatText
		s.text, s.truncated = x.finish(body, false)
	}
	return s
}

// jsonStrings collects the string values of a JSON body of no known format:
// from its parsed document d when parsed is set, else from its bytes.
func (x *extractor) jsonStrings(d *jdoc, parsed bool, body []byte) ([]byte, bool) {
	if parsed {
		return d.appendStrings(x.buffer(body), "\n", x.limit())
	}
	return appendStrings(x.buffer(body), body, "\n", x.limit())
}

// limit is how much text a side collects before it stops: the cap plus room
// to cut at a rune boundary after repairing invalid UTF-8.
func (x *extractor) limit() int {
	return x.cfg.maxText + utf8.UTFMax
}

// buffer returns an empty buffer sized for the text of body.
func (x *extractor) buffer(body []byte) []byte {
	return make([]byte, 0, min(len(body), x.limit()))
}

// finish repairs and caps a side's text; over reports text left out while
// collecting.
func (x *extractor) finish(text []byte, over bool) ([]byte, bool) {
	out, cut := cutHead(repairUTF8(text), x.cfg.maxText)
	return out, over || cut
}

// response reads the response side.
func (x *extractor) response(d *jdoc, in *Input) side {
	var s side
	switch st := in.ResponseStatus; {
	case st >= 100 && st < 200, st == 204, st == 304:
		return s // no body by definition
	}
	body, kind := x.body(in.ResponseBody, in.ResponseContentType, in.ResponseContentEncoding, in.ResponseTruncated, &s)
	body = trimBOM(body)
	var (
		text []byte
		over bool
	)
	switch kind {
	case kindJSON:
		parsed := parseJSON(d, body, &s)
		if parsed {
			r := respParse{d: d, out: joiner{buf: d.buf(bufResp, min(x.limit(), len(body))), sep: "\n", limit: x.limit()}}
			ok := r.parse()
			d.keep(bufResp, r.out.buf)
			if ok {
				s.format, s.known = r.format, true
				text, over = r.out.buf, r.out.over
				break
			}
		}
		s.format = FormatJSON
		text, over = x.jsonStrings(d, parsed, body)
	case kindSSE:
		a := newStreamAsm(d)
		a.run(body)
		s.format, s.known = a.kind.format(), a.kind != streamUnknown
		s.partial = s.partial || a.partial()
		text = a.text()
	case kindText:
		s.format = FormatText
		text = body
	}
	s.text, s.truncated = x.finish(text, over)
	return s
}

// parseJSON parses body into d; a document cut short is closed first and
// the side marked partial.
func parseJSON(d *jdoc, body []byte, s *side) bool {
	if d.parse(body) == nil {
		return true
	}
	if doc, ok := closeCut(body); ok && d.parse(doc) == nil {
		s.partial = true
		return true
	}
	return false
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
