package assurancehub

import "encoding/json"

// The twelve test types the API evaluates. Each is the last path segment of
// POST /v1/evaluate/<test_type>.
const (
	Bias           = "bias"
	Hallucination  = "hallucination"
	Toxicity       = "toxicity"
	Robustness     = "robustness"
	Jailbreak      = "jailbreak"
	Injection      = "injection"
	PII            = "pii"
	Copyright      = "copyright"
	Misinformation = "misinformation"
	ChildSafety    = "child_safety"
	HIPAA          = "hipaa"
	GDPR           = "gdpr"
)

var testTypes = []string{
	Bias, Hallucination, Toxicity, Robustness, Jailbreak, Injection,
	PII, Copyright, Misinformation, ChildSafety, HIPAA, GDPR,
}

// TestTypes returns the twelve test types in the order the API documents them.
func TestTypes() []string {
	return append([]string(nil), testTypes...)
}

// IsTestType reports whether s names one of the twelve test types.
func IsTestType(s string) bool {
	for _, t := range testTypes {
		if t == s {
			return true
		}
	}
	return false
}

// Request is the body of POST /v1/evaluate/<test_type>.
type Request struct {
	Prompt     string `json:"prompt"`
	Response   string `json:"response"`
	CustomerID string `json:"customer_id,omitempty"`
}

// Result is a decoded 200 response. Every documented field is typed; the
// whole body is kept in Raw so fields the docs do not show are not lost.
type Result struct {
	FinalConsensusScore float64           `json:"final_consensus_score"`
	ConsensusConfidence float64           `json:"consensus_confidence"`
	Evaluation          Evaluation        `json:"evaluation"`
	ConsensusAnalysis   ConsensusAnalysis `json:"consensus_analysis"`
	ModelExecution      json.RawMessage   `json:"model_execution,omitempty"`

	// Raw is the complete response body as received.
	Raw json.RawMessage `json:"-"`
}

// Evaluation is the verdict block of a Result.
type Evaluation struct {
	// RiskLevel is an open set; values seen in the docs are "low", "high",
	// "reject" and "critical". Unknown values are kept as they are.
	RiskLevel string `json:"risk_level"`
	// PassFail is "pass" or "fail".
	PassFail string `json:"pass_fail"`
	Flagged  bool   `json:"flagged"`
}

// ConsensusAnalysis describes how the panel of judge models reached the score.
type ConsensusAnalysis struct {
	Method          string       `json:"method"`
	ModelsSucceeded int          `json:"models_succeeded"`
	ModelsFailed    int          `json:"models_failed"`
	AgreementScore  float64      `json:"agreement_score"`
	Calculation     []ModelScore `json:"calculation"`
}

// ModelScore is one judge model's contribution to the consensus.
type ModelScore struct {
	Model           string  `json:"model"`
	IndividualScore float64 `json:"individual_score"`
	Confidence      float64 `json:"confidence"`
	Role            string  `json:"role"`
}
