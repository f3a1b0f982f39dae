//go:build readmedeps

package readmetest

// The modules the README's examples import, so that go.mod requires them
// and go mod tidy keeps them. The build tag keeps this file out of every
// build; tidy reads it all the same.
import (
	_ "github.com/anthropics/anthropic-sdk-go"
	_ "github.com/anthropics/anthropic-sdk-go/option"
	_ "github.com/gin-gonic/gin"
	_ "github.com/openai/openai-go/v3"
	_ "github.com/openai/openai-go/v3/option"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/safecheck/safecheck"
	_ "github.com/safecheck/safecheck/adapters/gin"
	_ "github.com/safecheck/safecheck/adapters/otel"
	_ "github.com/safecheck/safecheck/adapters/prometheus"
	_ "github.com/safecheck/safecheck/adapters/redis"
	_ "github.com/safecheck/safecheck/admin"
	_ "github.com/safecheck/safecheck/assurancehub"
	_ "github.com/safecheck/safecheck/assurancehubtest"
	_ "github.com/safecheck/safecheck/drop"
	_ "github.com/safecheck/safecheck/event"
	_ "github.com/safecheck/safecheck/extract"
	_ "github.com/safecheck/safecheck/webhook"
	_ "go.opentelemetry.io/otel"
	_ "go.opentelemetry.io/otel/sdk/metric"
)
