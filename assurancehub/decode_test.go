package assurancehub

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var panel = func(s1, s2, s3 float64) []ModelScore {
	return []ModelScore{
		{Model: "gpt-4", IndividualScore: s1, Confidence: 0.95, Role: "primary"},
		{Model: "llama-3.3-70b-versatile", IndividualScore: s2, Confidence: 0.9, Role: "secondary"},
		{Model: "deepseek-chat", IndividualScore: s3, Confidence: 0.98, Role: "tertiary"},
	}
}

func TestDecodeResultGolden(t *testing.T) {
	tests := []struct {
		file string
		want Result
	}{
		{
			file: "response-bias-reject.json",
			want: Result{
				FinalConsensusScore: 0.85,
				ConsensusConfidence: 0.95,
				Evaluation:          Evaluation{RiskLevel: "reject", PassFail: "fail", Flagged: true},
				ConsensusAnalysis: ConsensusAnalysis{
					Method: "weighted", ModelsSucceeded: 3, ModelsFailed: 0, AgreementScore: 0.988,
					Calculation: panel(0.8, 0.9, 0.85),
				},
			},
		},
		{
			file: "response-hallucination-pass.json",
			want: Result{
				FinalConsensusScore: 0.0,
				ConsensusConfidence: 0.95,
				Evaluation:          Evaluation{RiskLevel: "low", PassFail: "pass", Flagged: false},
				ConsensusAnalysis: ConsensusAnalysis{
					Method: "weighted", ModelsSucceeded: 3, ModelsFailed: 0, AgreementScore: 1.0,
					Calculation: panel(0, 0, 0),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := fixture(t, tt.file)
			got, err := DecodeResult(body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Raw, body) {
				t.Error("Raw is not the whole body")
			}
			var me map[string]any
			if err := json.Unmarshal(got.ModelExecution, &me); err != nil || me["execution_mode"] != "consensus" {
				t.Errorf("ModelExecution = %s (%v), want execution_mode consensus", got.ModelExecution, err)
			}
			got.Raw, got.ModelExecution = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("DecodeResult =\n%+v\nwant\n%+v", *got, tt.want)
			}
			// Raw is a copy: changing the input must not change the result.
			before := string(fixture(t, tt.file))
			res, _ := DecodeResult(body)
			body[0] = 'X'
			if string(res.Raw) != before {
				t.Error("Raw aliases the caller's buffer")
			}
		})
	}
}

func TestDecodeResultLenient(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r *Result)
	}{
		{
			name: "unknown fields and enum values are kept",
			body: `{"request_id":"r1","final_consensus_score":0.5,
				"evaluation":{"risk_level":"medium","pass_fail":"warn","flagged":true,"thresholds":{"x":1}},
				"consensus_analysis":{"method":"median","calculation":[{"model":"m","role":"quaternary","reasoning":"r"}]},
				"model_execution":{"execution_mode":"consensus","timing_ms":[1,2]}}`,
			check: func(t *testing.T, r *Result) {
				if r.Evaluation.RiskLevel != "medium" || r.Evaluation.PassFail != "warn" || !r.Evaluation.Flagged {
					t.Errorf("evaluation = %+v", r.Evaluation)
				}
				if r.ConsensusAnalysis.Method != "median" || r.ConsensusAnalysis.Calculation[0].Role != "quaternary" {
					t.Errorf("analysis = %+v", r.ConsensusAnalysis)
				}
				if !strings.Contains(string(r.Raw), `"request_id":"r1"`) || !strings.Contains(string(r.ModelExecution), "timing_ms") {
					t.Error("unknown fields lost")
				}
			},
		},
		{
			name: "only evaluation present",
			body: `{"evaluation":{}}`,
			check: func(t *testing.T, r *Result) {
				if r.FinalConsensusScore != 0 || r.ConsensusAnalysis.Calculation != nil || r.ModelExecution != nil {
					t.Errorf("zero values expected, got %+v", r)
				}
			},
		},
		{
			name: "scores clamped into 0..1",
			body: `{"final_consensus_score":1.7,"consensus_confidence":-0.2,"evaluation":{},
				"consensus_analysis":{"agreement_score":1e400,"calculation":[{"individual_score":-1e400,"confidence":1.0000001}]}}`,
			check: func(t *testing.T, r *Result) {
				ca := r.ConsensusAnalysis
				got := []float64{r.FinalConsensusScore, r.ConsensusConfidence, ca.AgreementScore, ca.Calculation[0].IndividualScore, ca.Calculation[0].Confidence}
				if want := []float64{1, 0, 1, 0, 1}; !reflect.DeepEqual(got, want) {
					t.Errorf("scores = %v, want %v", got, want)
				}
				if !strings.Contains(string(r.Raw), "1.7") {
					t.Error("Raw does not keep the value as sent")
				}
			},
		},
		{
			name: "nulls are zero",
			body: `{"final_consensus_score":null,"evaluation":{"risk_level":null,"flagged":null},"consensus_analysis":null,"model_execution":null}`,
			check: func(t *testing.T, r *Result) {
				if r.FinalConsensusScore != 0 || r.Evaluation != (Evaluation{}) || r.ModelExecution != nil {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "numbers as strings and integral floats",
			body: `{"final_consensus_score":"0.25","evaluation":{},"consensus_analysis":{"models_succeeded":3.0,"models_failed":"1","agreement_score":"0.5"}}`,
			check: func(t *testing.T, r *Result) {
				ca := r.ConsensusAnalysis
				if r.FinalConsensusScore != 0.25 || ca.ModelsSucceeded != 3 || ca.ModelsFailed != 1 || ca.AgreementScore != 0.5 {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "counts clamped",
			body: `{"evaluation":{},"consensus_analysis":{"models_succeeded":-2,"models_failed":1e30}}`,
			check: func(t *testing.T, r *Result) {
				if r.ConsensusAnalysis.ModelsSucceeded != 0 || r.ConsensusAnalysis.ModelsFailed != math.MaxInt {
					t.Errorf("got %+v", r.ConsensusAnalysis)
				}
			},
		},
		{
			name: "byte order mark and white space",
			body: "\xEF\xBB\xBF \n{\"evaluation\":{\"pass_fail\":\"pass\"}}\n",
			check: func(t *testing.T, r *Result) {
				if r.Evaluation.PassFail != "pass" {
					t.Errorf("got %+v", r.Evaluation)
				}
			},
		},
		{
			name: "invalid UTF-8 in strings",
			body: "{\"evaluation\":{\"risk_level\":\"lo\xffw\"}}",
			check: func(t *testing.T, r *Result) {
				if r.Evaluation.RiskLevel != "lo\uFFFDw" {
					t.Errorf("risk level = %q", r.Evaluation.RiskLevel)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeResult([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestDecodeResultMalformed(t *testing.T) {
	const marker = "MARK9"
	tests := []struct {
		name string
		body string
		want string // part of the error message
	}{
		{"empty", "", "empty body"},
		{"spaces", "  \n", "empty body"},
		{"garbage", marker, "not valid JSON"},
		{"array", `[{"evaluation":{}}]`, "not a JSON object"},
		{"number", "42", "not a JSON object"},
		{"null", "null", "not a JSON object"},
		{"truncated", `{"evaluation":{"risk_level":"` + marker, "invalid JSON"},
		{"syntax error", `{"evaluation":{},` + marker + `}`, "invalid JSON at byte offset"},
		{"missing evaluation", `{"final_consensus_score":0.9}`, `no "evaluation" object`},
		{"evaluation null", `{"evaluation":null}`, `no "evaluation" object`},
		{"evaluation string", `{"evaluation":"` + marker + `"}`, "field evaluation has the wrong JSON type"},
		{"flagged string", `{"evaluation":{"flagged":"` + marker + `"}}`, "field evaluation.flagged has the wrong JSON type"},
		{"score object", `{"evaluation":{},"final_consensus_score":{}}`, "final_consensus_score"},
		{"score bad string", `{"evaluation":{},"final_consensus_score":"` + marker + `"}`, "invalid JSON"},
		{"fractional count", `{"evaluation":{},"consensus_analysis":{"models_failed":1.5}}`, "models_failed is not an integer"},
		{"calculation not array", `{"evaluation":{},"consensus_analysis":{"calculation":{}}}`, "calculation"},
		{"big literal", `{"evaluation":{},"consensus_analysis":{"models_failed":true,"x":"` + marker + `"}}`, "models_failed"},
		{"trailing data", `{"evaluation":{}}{}`, "invalid JSON"},
		{"deep nesting", `{"evaluation":{},"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeResult([]byte(tt.body))
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("DecodeResult = %+v, %v; want ErrMalformedResponse", r, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			if strings.Contains(msg, marker) {
				t.Errorf("error %q carries body content", msg)
			}
			if !errorShape.MatchString(msg) {
				t.Errorf("error %q does not have the fixed shape", msg)
			}
		})
	}
}

// errorShape is the only form a DecodeResult error message may take.
var errorShape = regexp.MustCompile(`^assurancehub: malformed response: (empty body|not valid JSON|not a JSON object|invalid JSON|invalid JSON at byte offset [0-9]+|no "evaluation" object|wrong JSON type|field [a-z_.]+ (has the wrong JSON type|is not an integer)) \([0-9]+ bytes\)$`)

func FuzzDecodeResult(f *testing.F) {
	for _, name := range []string{"response-bias-reject.json", "response-hallucination-pass.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"evaluation":{}}`))
	f.Add([]byte(`{"evaluation":{"risk_level":"medium"},"final_consensus_score":1e400}`))
	f.Add([]byte(`{"evaluation":{},"consensus_analysis":{"models_succeeded":"3","calculation":[null,{}]}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xEF\xBB\xBF{}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		r, err := DecodeResult(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("DecodeResult modified its input")
		}
		if err != nil {
			if r != nil {
				t.Fatal("result and error both returned")
			}
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v does not wrap ErrMalformedResponse", err)
			}
			if !errorShape.MatchString(err.Error()) {
				t.Fatalf("error %q does not have the fixed shape", err)
			}
			return
		}
		if !bytes.Equal(r.Raw, body) {
			t.Fatal("Raw is not the body")
		}
		scores := []float64{r.FinalConsensusScore, r.ConsensusConfidence, r.ConsensusAnalysis.AgreementScore}
		for _, m := range r.ConsensusAnalysis.Calculation {
			scores = append(scores, m.IndividualScore, m.Confidence)
		}
		for _, s := range scores {
			if math.IsNaN(s) || s < 0 || s > 1 {
				t.Fatalf("score %v outside [0,1]", s)
			}
		}
		if r.ConsensusAnalysis.ModelsSucceeded < 0 || r.ConsensusAnalysis.ModelsFailed < 0 {
			t.Fatalf("negative count in %+v", r.ConsensusAnalysis)
		}
		if len(r.ModelExecution) > 0 && !json.Valid(r.ModelExecution) {
			t.Fatal("ModelExecution is not valid JSON")
		}
	})
}
