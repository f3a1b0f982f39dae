//go:build !race

package extract

import "testing"

// Under -race, sync.Pool drops items at random, so the pooled buffers this
// test relies on would be allocated again.

// TestExtractSmallAllocations locks in the allocations of the exchanges of
// BenchmarkExtractSmall: the one string that holds both texts of the pair,
// and nothing else once the pooled buffers are warm.
func TestExtractSmallAllocations(t *testing.T) {
	const js, sse = "application/json", "text/event-stream"
	cases := []struct {
		name string
		in   Input
	}{
		{FormatOpenAIChat, Input{RequestBody: []byte(smallChatRequest), RequestContentType: js,
			ResponseBody: smallChatResponse(), ResponseContentType: js, ResponseStatus: 200}},
		{FormatOpenAIChatStream, Input{RequestBody: []byte(smallChatRequest), RequestContentType: js,
			ResponseBody: smallChatStream(), ResponseContentType: sse, ResponseStatus: 200}},
		{FormatAnthropicMessages, Input{RequestBody: []byte(smallAnthropicRequest), RequestContentType: js,
			ResponseBody: smallAnthropicResponse(), ResponseContentType: js, ResponseStatus: 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := Extract(tc.in); err != nil || p.Format != tc.name {
				t.Fatalf("format %q, %v", p.Format, err)
			}
			n := testing.AllocsPerRun(100, func() {
				if _, err := Extract(tc.in); err != nil {
					t.Fatal(err)
				}
			})
			if n != 1 {
				t.Errorf("%v allocs per extraction, want 1", n)
			}
		})
	}
}
