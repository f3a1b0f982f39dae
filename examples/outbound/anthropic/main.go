// Command anthropic asks Claude one question through anthropic-sdk-go, with
// the answer sampled and checked by safecheck on the way back. It reads
// ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL, if set) as the SDK does, and
// ASSURANCEHUB_API_KEY as assurancehub.New does.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/assurancehub"
)

func main() {
	client, err := assurancehub.New()
	if err != nil {
		log.Fatal(err)
	}
	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	route, err := guard.Route("anthropic", safecheck.WithSampleRate(1))
	if err != nil {
		log.Fatal(err)
	}
	llm := anthropic.NewClient(option.WithHTTPClient(&http.Client{Transport: route.Transport(nil)}))

	ctx := safecheck.ContextWithIDs(context.Background(), "customer-42", "")
	stream := llm.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeSonnet5_5,
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello in French."))},
	})
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "content_block_delta" {
			fmt.Print(ev.Delta.Text)
		}
	}
	fmt.Println()
	if err := stream.Err(); err != nil {
		log.Fatal(err)
	}
	stream.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := guard.Close(ctx); err != nil { // waits for the check; its verdict is logged
		log.Print(err)
	}
}
