package results_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/results"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "results")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "results.jsonl")

	// A run that was killed while writing its third line.
	_ = os.WriteFile(path, []byte(
		`{"id":"a","test_type":"pii","flagged":false,"score":0,"risk_level":"low","pass_fail":"pass","latency_ms":201,"attempts":1}`+"\n"+
			`{"id":"b","test_type":"pii","latency_ms":3012,"attempts":4,"error_class":"server_error","status":503}`+"\n"+
			`{"id":"c","test_type":"pii","flag`), 0o644)

	f, resumed, err := results.Open(path, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fmt.Println("records:", resumed.Records, "cut off:", resumed.Truncated, "bytes")
	_, doneA := resumed.Done[results.Key{ID: "a", TestType: "pii"}]
	_, doneB := resumed.Done[results.Key{ID: "b", TestType: "pii"}]
	fmt.Println("a done:", doneA, "b done:", doneB) // b failed, so it is tried again

	w := results.NewWriter(f)
	_ = w.Write(results.Record{ID: "b", TestType: "pii", Verdict: &results.Verdict{Flagged: true, Score: 0.85, RiskLevel: "reject", PassFail: "fail"}, LatencyMS: 198.2, Attempts: 1})
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	fmt.Println(len(lines), "lines; the last:")
	fmt.Println(lines[len(lines)-1])
	// Output:
	// records: 2 cut off: 33 bytes
	// a done: true b done: false
	// 3 lines; the last:
	// {"id":"b","test_type":"pii","flagged":true,"score":0.85,"risk_level":"reject","pass_fail":"fail","latency_ms":198.2,"attempts":1}
}
