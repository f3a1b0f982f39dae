package admin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/admin"
)

func ExampleNew() {
	// Audit records go to stdout here, without their time, so that the
	// example's output is stable.
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	checker := safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{}, nil
	})
	guard, err := safecheck.New(checker, safecheck.WithLogger(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer guard.Close(context.Background())
	if _, err := guard.Route("chat", safecheck.WithSampleRate(0.1)); err != nil {
		fmt.Println(err)
		return
	}
	// In production the token comes from a secret store, e.g.
	// os.Getenv("SAFECHECK_ADMIN_TOKEN"), and the allowlist from config.
	h, err := admin.New(guard,
		admin.WithToken("oncall", "0123456789abcdef0123456789abcdef"),
		admin.WithAllowlist("127.0.0.0/8", "10.0.0.0/8"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/internal/safecheck/", http.StripPrefix("/internal/safecheck", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	put := func(token, body string) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/internal/safecheck/routes/chat/rate", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, answer)
	}
	put("0123456789abcdef0123456789abcdef", `{"rate": 0.5}`)
	put("0123456789abcdef0123456789abcdef", `{"rate": 5}`)
	put("wrong", `{"rate": 1}`)
	// Output:
	// {"level":"WARN","msg":"sample rate changed","service":"safecheck","route":"chat","before":0.1,"after":0.5,"actor":"oncall","client_ip":"127.0.0.1","via":"admin","audit":true}
	// 200 {"after":0.5,"before":0.1,"route":"chat"}
	// 422 {"error":"rate must be within [0, 1], got 5"}
	// 401 {"error":"missing or invalid bearer token"}
}
