package safecheckgin_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
	safecheckgin "github.com/safecheck/safecheck/adapters/gin"
	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

func ExampleMiddleware() {
	// A fake AssuranceHub API on loopback; in production, assurancehub.New()
	// reads the key from ASSURANCEHUB_API_KEY and talks to the real API.
	hub, err := assurancehubtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	client, err := assurancehub.New(assurancehub.WithAPIKey(assurancehubtest.TestAPIKey), assurancehub.WithBaseURL(hub.URL))
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseIdleConnections()

	var (
		mu       sync.Mutex
		verdicts []string
	)
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		safecheck.WithLogger(slog.New(slog.DiscardHandler)), // verdict records, as JSON in a real app
		safecheck.WithOnVerdict(func(o safecheck.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			verdicts = append(verdicts, fmt.Sprintf("%s %s %s customer=%s flagged=%v risk=%s",
				o.RequestID, o.Route, o.TestType, o.CustomerID, o.Verdict.Flagged, o.Verdict.RiskLevel))
		}))
	if err != nil {
		log.Fatal(err)
	}

	// Sample every chat request; the customer comes from the auth middleware.
	mw, err := safecheckgin.Middleware(guard,
		safecheckgin.WithRoute("POST", "/v1/chat/:id", safecheck.WithSampleRate(1), safecheck.WithTestTypes(assurancehub.Toxicity)),
		safecheckgin.WithCustomerIDFromContextKey("customer_id"),
	)
	if err != nil {
		log.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	auth := func(c *gin.Context) { c.Set("customer_id", c.GetHeader("X-Customer")) }
	r.Use(gin.Recovery(), auth, mw)
	r.POST("/v1/chat/:id", func(c *gin.Context) {
		var req struct {
			Prompt string `json:"prompt"`
		}
		if err := c.ShouldBindJSON(&req); err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		answer := "Happy to help."
		if strings.Contains(req.Prompt, "honest") {
			answer = "Honestly? You are an idiot."
		}
		c.JSON(http.StatusOK, gin.H{"answer": answer})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	for i, customer := range []string{"acme", "globex"} {
		body := `{"prompt":"Describe my plan."}`
		if i == 1 {
			body = `{"prompt":"Be honest about my plan."}`
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/"+fmt.Sprint(i), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Customer", customer)
		req.Header.Set("X-Request-ID", fmt.Sprint("req-", i))
		resp, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}

	// Close waits for the background checks.
	if err := guard.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	sort.Strings(verdicts)
	for _, v := range verdicts {
		fmt.Println(v)
	}
	s := guard.Stats()
	fmt.Printf("sampled=%d checked=%d\n", s.Sampled, s.Checked)
	// Output:
	// req-0 POST /v1/chat/:id toxicity customer=acme flagged=false risk=low
	// req-1 POST /v1/chat/:id toxicity customer=globex flagged=true risk=reject
	// sampled=2 checked=2
}

func ExampleRoute() {
	guard, err := safecheck.New(safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{RiskLevel: "low", PassFail: "pass"}, nil
	}), safecheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close(context.Background())

	// Every request to the /v1 group is sampled on the route "v1", at 20 %.
	v1mw, err := safecheckgin.Route(guard, "v1", safecheck.WithSampleRate(0.2))
	if err != nil {
		log.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	v1 := r.Group("/v1", v1mw)
	v1.POST("/chat", func(c *gin.Context) { c.String(http.StatusOK, "hello") })

	fmt.Println(guard.Stats().Routes[0].Name, guard.Stats().Routes[0].SampleRate)
	// Output: v1 0.2
}
