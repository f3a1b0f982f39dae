package extract

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"
)

// bodyKind is how a body is read.
type bodyKind uint8

const (
	kindEmpty bodyKind = iota
	kindText
	kindJSON
	kindSSE
	kindBinary
)

// mediaType returns the lower-cased media type of a Content-Type value,
// without parameters.
func mediaType(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}

// classify decides how to read body from its Content-Type, correcting the
// obvious mislabels (a JSON error body on an event stream, an event stream
// labelled JSON) and sniffing when the type is missing or vague.
func classify(contentType string, body []byte) bodyKind {
	return classifyMedia(mediaType(contentType), body)
}

// classifyMedia is classify for the media type mt, as mediaType returns it.
func classifyMedia(mt string, body []byte) bodyKind {
	if len(body) == 0 {
		return kindEmpty
	}
	switch {
	case mt == "text/event-stream":
		if looksJSON(body) {
			return kindJSON
		}
		return kindSSE
	case isJSONType(mt):
		if looksSSE(body) {
			return kindSSE
		}
		return kindJSON
	case strings.HasPrefix(mt, "text/"):
		return kindText
	case isBinaryType(mt):
		return kindBinary
	case mt == "" || mt == "application/unknown" || mt == "*/*":
		return sniff(body)
	case strings.HasPrefix(mt, "application/"):
		switch {
		case strings.HasSuffix(mt, "+xml"), mt == "application/xml",
			mt == "application/x-www-form-urlencoded", mt == "application/javascript",
			mt == "application/graphql", mt == "application/yaml", mt == "application/x-yaml":
			return kindText
		}
		if sniff(body) == kindBinary {
			return kindBinary
		}
		return kindText
	}
	return sniff(body)
}

// sniff guesses the kind of an unlabelled body.
func sniff(body []byte) bodyKind {
	switch {
	case looksJSON(body):
		return kindJSON
	case looksSSE(body):
		return kindSSE
	}
	ct := http.DetectContentType(body)
	if strings.HasPrefix(ct, "text/") {
		return kindText
	}
	return kindBinary
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/x-ndjson" || mt == "application/ndjson" ||
		mt == "application/jsonl" || mt == "application/x-jsonlines" || mt == "text/json"
}

// binaryPrefixes and binaryTypes name media types that carry no text.
var (
	binaryPrefixes = []string{"image/", "audio/", "video/", "font/", "model/", "multipart/", "application/grpc", "application/vnd.apache."}
	binaryTypes    = map[string]bool{
		"application/octet-stream": true, "application/pdf": true, "application/zip": true,
		"application/gzip": true, "application/x-gzip": true, "application/x-tar": true,
		"application/x-7z-compressed": true, "application/x-rar-compressed": true,
		"application/x-bzip2": true, "application/zstd": true, "application/wasm": true,
		"application/protobuf": true, "application/x-protobuf": true, "application/vnd.google.protobuf": true,
		"application/msgpack": true, "application/x-msgpack": true, "application/vnd.msgpack": true,
		"application/cbor": true, "application/x-bson": true, "application/ogg": true,
		"application/x-shockwave-flash": true, "application/java-archive": true,
		"application/vnd.ms-excel": true, "application/msword": true,
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
		"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	}
)

func isBinaryType(mt string) bool {
	switch mt {
	case "application/json", "text/event-stream", "text/plain", "":
		return false // the common types, without the map and the prefixes
	}
	if binaryTypes[mt] {
		return true
	}
	for _, p := range binaryPrefixes {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	return false
}

// looksJSON reports whether body starts like a JSON object or array.
func looksJSON(body []byte) bool {
	i := skipWS(body, 0)
	return i < len(body) && (body[i] == '{' || body[i] == '[')
}

// looksSSE reports whether body starts like an event stream.
func looksSSE(body []byte) bool {
	body = bytes.TrimPrefix(body, bom)
	if len(body) == 0 {
		return false
	}
	switch body[0] {
	case 'd', 'e', 'i', 'r', ':': // the first bytes of the prefixes below
	default:
		return false
	}
	for _, p := range []string{"data:", "event:", "id:", "retry:", ":"} {
		if bytes.HasPrefix(body, []byte(p)) {
			return true
		}
	}
	return false
}

// bom is the UTF-8 byte order mark.
var bom = []byte("\uFEFF")

// errTooLarge is wrapped in ErrDecode when decompression passes the cap.
var errTooLarge = errors.New("decompressed size over the cap")

// DecodeBody undoes the Content-Encoding of a captured body. The value is
// the raw header (a comma-separated list, applied in order); "identity" and
// "" leave the body as is, "gzip", "x-gzip" and "deflate" (zlib-wrapped or
// raw) are decoded, anything else fails. No more than maxDecoded bytes are
// produced by any one decoding step.
//
// Errors wrap ErrDecode. When the compressed data ends early, as in a capture
// cut by its byte cap or a stream cut short, DecodeBody returns the bytes it
// could decode together with an error that also wraps io.ErrUnexpectedEOF.
func DecodeBody(body []byte, contentEncoding string, maxDecoded int64) ([]byte, error) {
	if maxDecoded <= 0 {
		return nil, fmt.Errorf("%w: decompression cap %d is not positive", ErrDecode, maxDecoded)
	}
	if strings.TrimSpace(contentEncoding) == "" {
		return body, nil // nothing to undo; the common case costs no allocation
	}
	codings := strings.Split(contentEncoding, ",")
	cut := false
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		var out []byte
		var err error
		switch coding {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			if alreadyDecoded(body, len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b) {
				if err := capPlain(body, maxDecoded); err != nil {
					return nil, fmt.Errorf("%w: %s: %w", ErrDecode, coding, err)
				}
				continue
			}
			out, err = gunzip(body, maxDecoded)
		case "deflate":
			out, err = inflate(body, maxDecoded)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && alreadyDecoded(body, false) {
				if err := capPlain(body, maxDecoded); err != nil {
					return nil, fmt.Errorf("%w: %s: %w", ErrDecode, coding, err)
				}
				continue
			}
		default:
			return nil, fmt.Errorf("%w: unsupported content encoding %s", ErrDecode, safeToken(coding))
		}
		switch {
		case err == nil:
		case errors.Is(err, io.ErrUnexpectedEOF):
			cut = true
		default:
			return nil, fmt.Errorf("%w: %s: %w", ErrDecode, coding, err)
		}
		body = out
	}
	if cut {
		return body, fmt.Errorf("%w: compressed data cut short: %w", ErrDecode, io.ErrUnexpectedEOF)
	}
	return body, nil
}

// alreadyDecoded reports whether a body labelled as compressed is in fact
// plain text: the capture then sat inside a compressing middleware that set
// Content-Encoding before the handler wrote its plain bytes.
func alreadyDecoded(body []byte, hasMagic bool) bool {
	return !hasMagic && len(body) > 0 && utf8.Valid(body) && !bytes.ContainsRune(body, 0)
}

// capPlain holds a body that a coding leaves as it is, because it was sent
// already decoded, to the cap that decoding it would be held to.
func capPlain(body []byte, capBytes int64) error {
	if int64(len(body)) > capBytes {
		return fmt.Errorf("%w (%d bytes)", errTooLarge, capBytes)
	}
	return nil
}

// safeToken quotes a header token for an error message, or describes it when
// it is not a short token, so that no arbitrary header bytes reach a log.
func safeToken(s string) string {
	if len(s) > 32 {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Sprintf("(%d bytes)", len(s))
		}
	}
	return fmt.Sprintf("%q", s)
}

func gunzip(body []byte, capBytes int64) ([]byte, error) {
	if len(body) == 0 {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // a header cut short
		}
		return nil, err
	}
	return readCapped(zr, capBytes, len(body))
}

// inflate decodes "deflate", which servers send zlib-wrapped (as RFC 9110
// says) or, often enough, as raw DEFLATE.
func inflate(body []byte, capBytes int64) ([]byte, error) {
	if len(body) == 0 {
		return body, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err == nil {
		out, err := readCapped(zr, capBytes, len(body))
		if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errTooLarge) {
			return out, err
		}
	}
	return readCapped(flate.NewReader(bytes.NewReader(body)), capBytes, len(body))
}

// readCapped reads r to its end, failing with errTooLarge past capBytes
// bytes. On io.ErrUnexpectedEOF it returns what it read.
func readCapped(r io.Reader, capBytes int64, hint int) ([]byte, error) {
	limit := capBytes
	if limit < math.MaxInt64 {
		limit++ // one byte more tells an exact fit from an overflow
	}
	size := min(int64(hint)*4, limit, 1<<20)
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 512)))
	n, err := buf.ReadFrom(io.LimitReader(r, limit))
	if n > capBytes {
		return nil, fmt.Errorf("%w (%d bytes)", errTooLarge, capBytes)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return buf.Bytes(), io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}
