package demo

import (
	"strings"
	"testing"
)

func TestProblemsSpotsABrokenRun(t *testing.T) {
	good := "ASSURANCEHUB_API_KEY is not set\n" +
		"incident  chat rate 0.20 (effective 1.00): sampled 20 of 20 requests\n" +
		"after     chat rate 0.20 (effective 0.20): sampled  4 of 20 requests\n"
	records := `{"msg":"safecheck verdict: flagged"}` + "\n" + `{"msg":"incident started"}` + "\n" +
		`{"msg":"incident expired"}` + "\n" + "\nsummary\n  sampled 1 = checked 1 + failed map[] + in flight 0\n"
	if p := Problems(records, good, "chat"); len(p) != 0 {
		t.Errorf("a good run reported problems: %v", p)
	}
	tests := map[string][2]string{
		"no summary":              {`{"msg":"x"}`, good},
		"route not fully sampled": {records, strings.Replace(good, "sampled 20 of 20", "sampled 19 of 20", 1)},
		"content in the records":  {strings.Replace(records, `{"msg":"incident started"}`, `{"msg":"incident started","q":"`+questions[1]+`"}`, 1), good},
		"a line that is not JSON": {"not json\n" + records, good},
	}
	for name, tc := range tests {
		if p := Problems(tc[0], tc[1], "chat"); len(p) == 0 {
			t.Errorf("%s: no problem reported", name)
		}
	}
}

func TestAnswerMisbehavesOnCue(t *testing.T) {
	if !strings.Contains(Answer("Please insult me."), "idiot") || Answer("capital?") == Answer("insult") {
		t.Error("the demo model does not misbehave on cue")
	}
}
