package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// maxBody bounds the JSON body of a request.
const maxBody = 64 << 10

// decodeJSON decodes one JSON object into v, answering the request
// itself when that fails. A body without a Content-Type is taken for JSON,
// and so is one labelled application/x-www-form-urlencoded that is JSON
// (what curl -d sends); other types are refused with the header to send.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	const sendJSON = `send the header "Content-Type: application/json"`
	formEncoded := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == "application/json":
		case err == nil && mt == "application/x-www-form-urlencoded":
			formEncoded = true
		default:
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not JSON: %s", ct, sendJSON))
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", maxBody))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "the body could not be read")
		return false
	case formEncoded && !json.Valid(body):
		writeError(w, http.StatusUnsupportedMediaType, `the body is form-encoded, not JSON: send a JSON object such as {"rate": 0.5} and `+sendJSON)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, "body holds more than one JSON value; send one object")
		return false
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "body is empty; send a JSON object")
	default:
		writeError(w, http.StatusBadRequest, decodeErrorMessage(err, v))
	}
	return false
}

// decodeErrorMessage says what is wrong with a body that encoding/json
// refused, in the request's terms: which field holds what instead of what,
// never a Go type.
func decodeErrorMessage(err error, v any) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "body is not valid JSON: it ends before the object does"
	case errors.As(err, &syntax):
		return fmt.Sprintf("body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syntax.Error(), "json: "), syntax.Offset)
	case errors.As(err, &typ):
		got := typ.Value
		if n, ok := strings.CutPrefix(got, "number "); ok {
			got = n + ", which is out of range"
		} else if got != "null" {
			got = "a JSON " + got
		}
		if typ.Field == "" {
			return "body must be a JSON object, got " + got
		}
		return fmt.Sprintf("%s must be %s, got %s", typ.Field, fieldKind(typ.Field), got)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Sprintf("unknown field %s; the fields are %s", field, strings.Join(fieldNames(v), ", "))
	}
	return "body is not a valid request; send a JSON object"
}

// fieldKinds says what each field of a request body takes.
var fieldKinds = map[string]string{
	"rate":     "a number from 0 to 1",
	"reason":   "a string",
	"route":    "a string",
	"routes":   "a list of route names (strings)",
	"duration": `a string such as "30m"`,
}

func fieldKind(path string) string {
	name, _, _ := strings.Cut(path, ".")
	if k, ok := fieldKinds[name]; ok {
		return k
	}
	return "another kind of value"
}

// fieldNames lists the JSON fields of the request struct *v, quoted.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var out []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" {
			out = append(out, strconv.Quote(tag))
		}
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
