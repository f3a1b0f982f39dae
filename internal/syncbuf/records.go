package syncbuf

import (
	"encoding/json"
	"strings"
	"testing"
)

// Records parses out, a log of JSON lines such as a Buffer holds, into one
// map per record, and fails tb on a line that is not JSON.
func Records(tb testing.TB, out string) []map[string]any {
	tb.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}
