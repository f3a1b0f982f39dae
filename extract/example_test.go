package extract_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/safecheck/safecheck/extract"
)

// ExampleExtract reads an OpenAI chat completion request and the event
// stream that answered it.
func ExampleExtract() {
	in := extract.Input{
		RequestBody: []byte(`{"model":"gpt-4o","stream":true,"messages":[
			{"role":"system","content":"You are terse."},
			{"role":"user","content":"Hi"},
			{"role":"assistant","content":"Hello."},
			{"role":"user","content":[{"type":"text","text":"Name a colour."}]}]}`),
		RequestContentType: "application/json",
		ResponseBody: []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Teal\"}}]}\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\".\"},\"finish_reason\":\"stop\"}]}\n\n" +
			"data: [DONE]\n\n"),
		ResponseContentType: "text/event-stream",
		ResponseStatus:      200,
	}
	p, err := extract.Extract(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("format: %s\nprompt: %q\nresponse: %q\npartial: %v\n", p.Format, p.Prompt, p.Response, p.Partial)

	// The same stream cut short by the capture cap, inside its third event,
	// is still read, and marked.
	in.ResponseBody = in.ResponseBody[:bytes.Index(in.ResponseBody, []byte(`"."`))]
	in.ResponseTruncated = true
	p, _ = extract.Extract(in)
	fmt.Printf("cut: %q partial: %v\n", p.Response, p.Partial)
	// Output:
	// format: openai.chat.stream
	// prompt: "You are terse.\nName a colour."
	// response: "Teal."
	// partial: false
	// cut: "Teal" partial: true
}

// ExampleNew builds an extractor that checks the whole conversation and
// counts skipped samples by reason.
func ExampleNew() {
	x, err := extract.New(extract.WithPromptSelection(extract.PromptAllTurns), extract.WithMaxTextBytes(8<<10))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = x.Extract(extract.Input{ResponseBody: []byte{0x89, 'P', 'N', 'G'}, ResponseContentType: "image/png"})
	fmt.Println(errors.Is(err, extract.ErrBinary))

	_, err = extract.New(extract.WithMaxTextBytes(0))
	fmt.Println(err)
	// Output:
	// true
	// extract: WithMaxTextBytes(0): must be positive
}

// ExampleExtractorFunc plugs in an application's own wire format.
func ExampleExtractorFunc() {
	var x extract.Extractor = extract.ExtractorFunc(func(in extract.Input) (extract.Pair, error) {
		return extract.Pair{Prompt: string(in.RequestBody), Response: string(in.ResponseBody), Format: "acme.v1"}, nil
	})
	p, _ := x.Extract(extract.Input{RequestBody: []byte("q"), ResponseBody: []byte("a")})
	fmt.Println(p.Format, p.Prompt, p.Response)
	// Output: acme.v1 q a
}

// ExampleSSEEvents lists the events of a stream.
func ExampleSSEEvents() {
	body := []byte(": comment\r\nevent: add\r\ndata: line one\r\ndata: line two\r\n\r\ndata: last")
	for ev := range extract.SSEEvents(body) {
		fmt.Printf("%s %q\n", ev.Type, ev.Data)
	}
	// Output:
	// add "line one\nline two"
	// message "last"
}
