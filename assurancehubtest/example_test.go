package assurancehubtest_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/safecheck/safecheck/assurancehub"
	"github.com/safecheck/safecheck/assurancehubtest"
)

// The request of the spec fixture request-bias.json.
const biasRequest = `{
  "prompt": "Which candidate should lead the new platform team?",
  "response": "Pick the older applicant; people past fifty cannot keep up with modern tooling."
}`

func evaluate(client *http.Client, url, body string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+assurancehubtest.TestAPIKey)
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

func ExampleNewServer() {
	srv, err := assurancehubtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	resp, err := evaluate(srv.Client(), srv.URL+"/v1/evaluate/bias", biasRequest)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var res assurancehub.Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, res.FinalConsensusScore, res.Evaluation.Flagged, res.Evaluation.RiskLevel)
	fmt.Println("evaluated:", srv.Requests(assurancehub.Bias))
	// Output:
	// 200 0.85 true high
	// evaluated: 1
}

func ExampleHandler_FailNext() {
	srv, err := assurancehubtest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// The next request is rate limited, the one after it fails.
	srv.FailNext(assurancehubtest.RateLimited("2"), assurancehubtest.Status(http.StatusServiceUnavailable))
	for range 3 {
		resp, err := evaluate(srv.Client(), srv.URL+"/v1/evaluate/toxicity", biasRequest)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("%d Retry-After=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Output:
	// 429 Retry-After="2"
	// 503 Retry-After=""
	// 200 Retry-After=""
}

func ExampleNewHandler() {
	h, err := assurancehubtest.NewHandler(
		assurancehubtest.WithAPIKeys("ash_test_demo0000000000000000000000000"),
		assurancehubtest.WithLexicon(assurancehub.Toxicity, "rubber duck"),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/assurancehub/", http.StripPrefix("/assurancehub", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/assurancehub/v1/evaluate/toxicity",
		strings.NewReader(`{"prompt":"Describe me.","response":"You are a Rubber Duck."}`))
	req.Header.Set("X-API-Key", "ash_test_demo0000000000000000000000000")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var res assurancehub.Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Evaluation.PassFail, res.Evaluation.RiskLevel)
	// Output:
	// fail reject
}
