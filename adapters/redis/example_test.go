package safecheckredis_test

import (
	"context"
	"log"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/safecheck/safecheck"
	safecheckredis "github.com/safecheck/safecheck/adapters/redis"
	"github.com/safecheck/safecheck/assurancehub"
)

// Every replica of the deployment runs this with the same prefix and
// secret; the plan's limit is then the fleet's.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	fleet, err := safecheckredis.New(rdb,
		safecheckredis.WithPrefix("chat-prod"),
		safecheckredis.WithSecret([]byte(os.Getenv("SAFECHECK_FLEET_SECRET"))))
	if err != nil {
		log.Fatal(err)
	}
	client, err := assurancehub.New() // key from ASSURANCEHUB_API_KEY
	if err != nil {
		log.Fatal(err)
	}
	guard, err := safecheck.New(safecheck.AssuranceHub(client),
		safecheck.WithCoordinator(fleet), safecheck.WithRateLimit(600))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close(context.Background())
	// Mount guard's routes and its admin handler as on a single replica.
}
