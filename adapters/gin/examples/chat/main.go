package main

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safecheck/safecheck"
	safecheckgin "github.com/safecheck/safecheck/adapters/gin"
	safecheckprom "github.com/safecheck/safecheck/adapters/prometheus"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/internal/demo"
)

func main() { demo.Main("chat-demo-gin", mount) }

// mount builds the gin engine: safecheck's route table, an auth group, and
// the guard's metrics.
func mount(guard *safecheck.Guard, stderr io.Writer) (http.Handler, error) {
	mw, err := safecheckgin.Middleware(guard,
		safecheckgin.WithRoute("POST", "/v1/chat/completions", safecheck.WithSampleRate(0.2),
			safecheck.WithTestTypes(assurancehub.Toxicity, assurancehub.PII, assurancehub.Jailbreak)),
		safecheckgin.WithRoute("POST", "/v1/completions", safecheck.WithSampleRate(0.5),
			safecheck.WithTestTypes(assurancehub.Toxicity)),
		safecheckgin.WithCustomerIDFromContextKey(customerKey),
	)
	if err != nil {
		return nil, err
	}
	collector, err := safecheckprom.NewCollector(guard)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)

	gin.SetMode(gin.ReleaseMode) // gin's debug output would mix with the JSON records on stdout
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(stderr), mw)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	v1 := r.Group("/v1", authenticate)
	v1.POST("/chat/completions", chatCompletions)
	v1.POST("/completions", legacyCompletions)
	return r, nil
}

const customerKey = "customer_id"

// authenticate stands in for a real auth middleware: it takes the customer
// from a header and stores it in the gin context, where safecheck finds it
// after the handler chain has run.
func authenticate(c *gin.Context) {
	id := c.GetHeader("X-Customer-ID")
	if id == "" {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "missing X-Customer-ID"})
		return
	}
	c.Set(customerKey, id)
}

type chatRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages" binding:"required,min=1"`
}

func chatCompletions(c *gin.Context) {
	var req chatRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid request"})
		return
	}
	last := req.Messages[len(req.Messages)-1].Content
	c.JSON(http.StatusOK, gin.H{
		"id":     "chatcmpl-demo",
		"object": "chat.completion",
		"choices": []gin.H{{
			"index":         0,
			"message":       gin.H{"role": "assistant", "content": demo.Answer(last)},
			"finish_reason": "stop",
		}},
	})
}

func legacyCompletions(c *gin.Context) {
	var req struct {
		Prompt string `json:"prompt" binding:"required"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid request"})
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"object":  "text_completion",
		"choices": []gin.H{{"index": 0, "text": demo.Answer(req.Prompt)}},
	})
}
