// Command openai asks OpenAI one question through openai-go, with the
// answer sampled and checked by safecheck on the way back. It reads
// OPENAI_API_KEY (and OPENAI_BASE_URL, if set) as openai-go does, and
// ASSURANCEHUB_API_KEY as assurancehub.New does.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
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
	route, err := guard.Route("openai", safecheck.WithSampleRate(1))
	if err != nil {
		log.Fatal(err)
	}
	llm := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: route.Transport(nil)}))

	ctx := safecheck.ContextWithIDs(context.Background(), "customer-42", "")
	res, err := llm.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    openai.ChatModelGPT5_4Mini,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in French.")},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Choices[0].Message.Content)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := guard.Close(ctx); err != nil { // waits for the check; its verdict is logged
		log.Print(err)
	}
}
