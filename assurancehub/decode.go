package assurancehub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// wireResult mirrors Result with lenient number types, so that the decoder
// can tell a missing evaluation from a present one and clamp scores.
type wireResult struct {
	FinalConsensusScore json.Number     `json:"final_consensus_score"`
	ConsensusConfidence json.Number     `json:"consensus_confidence"`
	Evaluation          *Evaluation     `json:"evaluation"`
	ConsensusAnalysis   *wireConsensus  `json:"consensus_analysis"`
	ModelExecution      json.RawMessage `json:"model_execution"`
}

type wireConsensus struct {
	Method          string           `json:"method"`
	ModelsSucceeded json.Number      `json:"models_succeeded"`
	ModelsFailed    json.Number      `json:"models_failed"`
	AgreementScore  json.Number      `json:"agreement_score"`
	Calculation     []wireModelScore `json:"calculation"`
}

type wireModelScore struct {
	Model           string      `json:"model"`
	IndividualScore json.Number `json:"individual_score"`
	Confidence      json.Number `json:"confidence"`
	Role            string      `json:"role"`
}

// utf8BOM is skipped if a body starts with it.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DecodeResult decodes a 200 response body of POST /v1/evaluate/<test_type>.
//
// Every documented field is decoded into its typed field and the whole body
// is kept, copied, in Result.Raw. Unknown fields and unknown values of the
// open enums (risk_level, pass_fail, method, role) are kept and never cause
// an error; missing fields other than "evaluation" are left at their zero
// values. Numbers given as JSON strings holding a number are accepted.
//
// Scores and confidences (final_consensus_score, consensus_confidence,
// agreement_score, and each calculation entry's individual_score and
// confidence) are documented as 0..1: a value outside that range is clamped
// to it, so callers can compare against thresholds safely; Raw keeps the value
// as sent. Negative model counts are set to 0.
//
// The error wraps ErrMalformedResponse if the body is not valid JSON, is not
// a JSON object, lacks an "evaluation" object, or gives a documented field a
// value of the wrong JSON type. The error message names at most a field path,
// a byte offset and the body length, never body content.
func DecodeResult(body []byte) (*Result, error) {
	return decodeResult(bytes.Clone(body))
}

// decodeResult is DecodeResult without the defensive copy: Raw aliases body.
func decodeResult(body []byte) (*Result, error) {
	trimmed := bytes.TrimPrefix(body, utf8BOM)
	trimmed = bytes.TrimLeft(trimmed, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, malformed(len(body), "empty body")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, malformed(len(body), "not valid JSON")
		}
		return nil, malformed(len(body), "not a JSON object")
	}
	var w wireResult
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return nil, malformed(len(body), describeJSONError(err))
	}
	if w.Evaluation == nil {
		return nil, malformed(len(body), `no "evaluation" object`)
	}
	r := &Result{
		FinalConsensusScore: score(w.FinalConsensusScore),
		ConsensusConfidence: score(w.ConsensusConfidence),
		Evaluation:          *w.Evaluation,
		Raw:                 body,
	}
	if ca := w.ConsensusAnalysis; ca != nil {
		var err error
		r.ConsensusAnalysis.Method = ca.Method
		r.ConsensusAnalysis.AgreementScore = score(ca.AgreementScore)
		if r.ConsensusAnalysis.ModelsSucceeded, err = count(ca.ModelsSucceeded); err != nil {
			return nil, malformed(len(body), "field consensus_analysis.models_succeeded is not an integer")
		}
		if r.ConsensusAnalysis.ModelsFailed, err = count(ca.ModelsFailed); err != nil {
			return nil, malformed(len(body), "field consensus_analysis.models_failed is not an integer")
		}
		if ca.Calculation != nil {
			r.ConsensusAnalysis.Calculation = make([]ModelScore, len(ca.Calculation))
		}
		for i, m := range ca.Calculation {
			r.ConsensusAnalysis.Calculation[i] = ModelScore{
				Model:           m.Model,
				IndividualScore: score(m.IndividualScore),
				Confidence:      score(m.Confidence),
				Role:            m.Role,
			}
		}
	}
	if len(w.ModelExecution) > 0 && string(w.ModelExecution) != "null" {
		r.ModelExecution = w.ModelExecution
	}
	return r, nil
}

func malformed(n int, what string) error {
	return fmt.Errorf("%w: %s (%d bytes)", ErrMalformedResponse, what, n)
}

// describeJSONError turns a json error into a message free of body content.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte offset %d", syn.Offset)
	case errors.As(err, &typ):
		// Field is built from this package's struct tags, Value names a JSON
		// kind; for numbers it would also carry the literal, so drop it.
		if typ.Field != "" {
			return fmt.Sprintf("field %s has the wrong JSON type", typ.Field)
		}
		return "wrong JSON type"
	}
	return "invalid JSON"
}

// score converts a JSON number to a float64 in [0, 1]. An empty number
// (missing or null field) is 0. The decoder has already checked the number's
// syntax, so ParseFloat fails only on range, returning ±Inf or 0, which clamp
// like any other value.
func score(n json.Number) float64 {
	if n == "" {
		return 0
	}
	f, _ := strconv.ParseFloat(string(n), 64)
	switch {
	case math.IsNaN(f), f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

// count converts a JSON number to a non-negative int. Integral values written
// with a fraction or exponent (3.0, 3e0) are accepted; huge ones saturate.
func count(n json.Number) (int, error) {
	if n == "" {
		return 0, nil
	}
	f, _ := strconv.ParseFloat(string(n), 64)
	switch {
	case f != math.Trunc(f) || math.IsNaN(f):
		return 0, errors.New("not an integer")
	case f <= 0:
		return 0, nil
	case f >= float64(math.MaxInt):
		return math.MaxInt, nil
	}
	return int(f), nil
}
