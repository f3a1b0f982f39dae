package assurancehubtest

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/safecheck/safecheck/assurancehub"
)

// readBody reads at most limit bytes of body and reports whether there was
// more.
func readBody(body io.Reader, limit int64) ([]byte, bool, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(data)) > limit {
		return data[:limit], true, err
	}
	return data, false, err
}

// authorized reports whether the request carries exactly one accepted API
// key, as "Authorization: Bearer <key>", "X-API-Key: <key>" or both with
// the same key, and which of the accepted keys it is.
func (h *Handler) authorized(header http.Header) (int, bool) {
	key, ok := credentials(header)
	if !ok {
		return 0, false
	}
	sum := sha256.Sum256([]byte(key))
	index, match := 0, 0
	for i := range h.keys {
		eq := subtle.ConstantTimeCompare(sum[:], h.keys[i][:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		match |= eq
	}
	return index, match == 1
}

// credentials extracts the API key a request presents. It fails when there
// is none, when a header is repeated or malformed, and when the two headers
// present different keys.
func credentials(header http.Header) (string, bool) {
	auth := header.Values("Authorization")
	xkey := header.Values("X-Api-Key")
	if len(auth) > 1 || len(xkey) > 1 {
		return "", false
	}
	var bearer string
	if len(auth) == 1 {
		scheme, token, found := strings.Cut(strings.TrimSpace(auth[0]), " ")
		token = strings.TrimSpace(token)
		if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", false
		}
		bearer = token
	}
	if len(xkey) == 1 {
		key := strings.TrimSpace(xkey[0])
		if key == "" || (bearer != "" && key != bearer) {
			return "", false
		}
		return key, true
	}
	return bearer, bearer != ""
}

// isJSONContentType reports whether a Content-Type value announces JSON:
// application/json or application/*+json, in UTF-8 if a charset is given.
func isJSONContentType(v string) bool {
	if v == "" {
		return false
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// validationErrors is the FastAPI-style 422 body.
type validationErrors struct {
	Detail []validationError `json:"detail"`
}

// validationError is one entry of a 422 body. Its texts are fixed strings:
// request content never appears in them.
type validationError struct {
	Loc  []string       `json:"loc"`
	Msg  string         `json:"msg"`
	Type string         `json:"type"`
	Ctx  map[string]int `json:"ctx,omitempty"`
}

// parseRequest validates a request body: a JSON object whose "prompt" and
// "response" are non-empty strings and whose optional "customer_id" is a
// string or null. Other members are ignored. It returns the request, or
// the problems found (nil when there are none).
func parseRequest(body []byte) (assurancehub.Request, []validationError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return assurancehub.Request{}, []validationError{{Loc: []string{"body"}, Msg: "field required", Type: "value_error.missing"}}
	}
	if !json.Valid(trimmed) {
		return assurancehub.Request{}, []validationError{{Loc: []string{"body"}, Msg: "invalid JSON", Type: "value_error.jsondecode"}}
	}
	var members map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return assurancehub.Request{}, []validationError{{Loc: []string{"body"}, Msg: "value is not a valid dict", Type: "type_error.dict"}}
	}

	var req assurancehub.Request
	var problems []validationError
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"prompt", &req.Prompt, true},
		{"response", &req.Response, true},
		{"customer_id", &req.CustomerID, false},
	} {
		if p := stringMember(members, f.name, f.dst, f.required); p != nil {
			problems = append(problems, *p)
		}
	}
	if problems != nil {
		return assurancehub.Request{}, problems
	}
	return req, nil
}

// stringMember decodes members[name] into dst and reports what is wrong
// with it, or nil.
func stringMember(members map[string]json.RawMessage, name string, dst *string, required bool) *validationError {
	loc := []string{"body", name}
	raw, ok := members[name]
	if !ok {
		if !required {
			return nil
		}
		return &validationError{Loc: loc, Msg: "field required", Type: "value_error.missing"}
	}
	switch {
	case string(raw) == "null":
		if !required {
			return nil
		}
		return &validationError{Loc: loc, Msg: "none is not an allowed value", Type: "type_error.none.not_allowed"}
	case len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, dst) != nil:
		return &validationError{Loc: loc, Msg: "str type expected", Type: "type_error.str"}
	case required && *dst == "":
		return &validationError{
			Loc:  loc,
			Msg:  "ensure this value has at least 1 characters",
			Type: "value_error.any_str.min_length",
			Ctx:  map[string]int{"limit_value": 1},
		}
	}
	return nil
}

// encodeResult returns the 200 body for res.
func encodeResult(res assurancehub.Result) ([]byte, error) {
	if len(res.Raw) > 0 {
		return res.Raw, nil
	}
	if len(res.ModelExecution) == 0 {
		res.ModelExecution = modelExecution
	}
	return json.Marshal(res)
}

// errorBody returns {"error":msg}.
func errorBody(msg string) string {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return string(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, errorBody(msg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
