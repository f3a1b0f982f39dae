package gate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// RiskLevels are the known risk levels, lowest first.
var RiskLevels = []string{"low", "medium", "high", "reject", "critical"}

// RiskRank returns the position of level in RiskLevels (case-insensitive),
// and false for an unknown level.
func RiskRank(level string) (int, bool) {
	for i, l := range RiskLevels {
		if strings.EqualFold(l, level) {
			return i, true
		}
	}
	return -1, false
}

// Verdict is what a rule looks at.
type Verdict struct {
	TestType  string
	Flagged   bool
	Score     float64
	RiskLevel string
	PassFail  string
}

// Gate is a parsed -fail-on expression. The zero Gate (and the Gate for an
// empty expression) fails nothing.
type Gate struct {
	rules []rule
}

type kind int

const (
	kindFlagged kind = iota
	kindFail
	kindRisk
	kindScore
)

type op string

type rule struct {
	testType string
	kind     kind
	op       op
	rank     int     // kindRisk
	value    float64 // kindScore
}

// Parse parses a -fail-on expression, such as "flagged" or
// "risk>=high,toxicity:score>=0.5". An empty expression gives a Gate that
// fails nothing. The error names the rule that cannot be parsed.
func Parse(expr string) (*Gate, error) {
	g := &Gate{}
	if strings.TrimSpace(expr) == "" {
		return g, nil
	}
	for i, part := range strings.Split(expr, ",") {
		r, err := parseRule(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("-fail-on rule %d %q: %w", i+1, strings.TrimSpace(part), err)
		}
		g.rules = append(g.rules, r)
	}
	return g, nil
}

func parseRule(s string) (rule, error) {
	if s == "" {
		return rule{}, fmt.Errorf("empty rule")
	}
	r := rule{}
	if tt, rest, ok := strings.Cut(s, ":"); ok {
		r.testType = strings.TrimSpace(tt)
		if r.testType == "" || strings.ContainsAny(r.testType, " \t<>=") {
			return rule{}, fmt.Errorf("invalid test type before ':'")
		}
		s = strings.TrimSpace(rest)
	}
	switch strings.ToLower(s) {
	case "flagged":
		r.kind = kindFlagged
		return r, nil
	case "fail", "failed":
		r.kind = kindFail
		return r, nil
	}
	field, o, value, ok := splitComparison(s)
	if !ok {
		return rule{}, fmt.Errorf("want flagged, fail, risk<op><level> or score<op><number>")
	}
	r.op = o
	switch strings.ToLower(field) {
	case "risk", "risk_level":
		rank, ok := RiskRank(value)
		if !ok {
			return rule{}, fmt.Errorf("unknown risk level %q (want one of %s)", value, strings.Join(RiskLevels, ", "))
		}
		r.kind, r.rank = kindRisk, rank
	case "score":
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
			return rule{}, fmt.Errorf("score must be a number from 0 to 1")
		}
		r.kind, r.value = kindScore, v
	default:
		return rule{}, fmt.Errorf("unknown field %q (want risk or score)", field)
	}
	return r, nil
}

// splitComparison splits "field OP value".
func splitComparison(s string) (string, op, string, bool) {
	i := strings.IndexAny(s, "<>=")
	if i <= 0 {
		return "", "", "", false
	}
	field := strings.TrimSpace(s[:i])
	rest := s[i:]
	var o op
	for _, cand := range []op{">=", "<=", "==", ">", "<", "="} {
		if strings.HasPrefix(rest, string(cand)) {
			o = cand
			break
		}
	}
	value := strings.TrimSpace(rest[len(o):])
	if o == "==" {
		o = "="
	}
	if field == "" || value == "" || strings.ContainsAny(value, "<>=") {
		return "", "", "", false
	}
	return field, o, value, true
}

func (o op) compare(a, b float64) bool {
	switch o {
	case ">=":
		return a >= b
	case ">":
		return a > b
	case "<=":
		return a <= b
	case "<":
		return a < b
	}
	return a == b
}

// Empty reports whether the gate has no rules and so fails nothing.
func (g *Gate) Empty() bool { return g == nil || len(g.rules) == 0 }

// TestTypes returns the test types that rules are limited to, in rule
// order and without repeats.
func (g *Gate) TestTypes() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range g.rules {
		if r.testType != "" && !seen[r.testType] {
			seen[r.testType] = true
			out = append(out, r.testType)
		}
	}
	return out
}

// Fails reports whether v fails the gate, and the first rule that matched.
func (g *Gate) Fails(v Verdict) (bool, string) {
	if g == nil {
		return false, ""
	}
	for _, r := range g.rules {
		if r.matches(v) {
			return true, r.String()
		}
	}
	return false, ""
}

func (r rule) matches(v Verdict) bool {
	if r.testType != "" && r.testType != v.TestType {
		return false
	}
	switch r.kind {
	case kindFlagged:
		return v.Flagged
	case kindFail:
		return strings.EqualFold(v.PassFail, "fail")
	case kindRisk:
		rank, ok := RiskRank(v.RiskLevel)
		if !ok {
			return true // an unknown level fails every risk rule
		}
		return r.op.compare(float64(rank), float64(r.rank))
	case kindScore:
		return r.op.compare(v.Score, r.value)
	}
	return false
}

// String returns the rules, normalised and comma-separated.
func (g *Gate) String() string {
	if g.Empty() {
		return ""
	}
	parts := make([]string, len(g.rules))
	for i, r := range g.rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// String returns the rule in normal form.
func (r rule) String() string {
	prefix := ""
	if r.testType != "" {
		prefix = r.testType + ":"
	}
	switch r.kind {
	case kindFlagged:
		return prefix + "flagged"
	case kindFail:
		return prefix + "fail"
	case kindRisk:
		return prefix + "risk" + string(r.op) + RiskLevels[r.rank]
	}
	return prefix + "score" + string(r.op) + strconv.FormatFloat(r.value, 'g', -1, 64)
}
