package coord_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/safecheck/safecheck"
	"github.com/safecheck/safecheck/coord"
)

// Two Guards of one process share an incident through a coord.Local, as
// replicas share it through adapters/redis.
func ExampleLocal() {
	fleet, err := coord.NewLocal([]byte("example-secret-0123456789"))
	if err != nil {
		log.Fatal(err)
	}
	check := safecheck.CheckerFunc(func(context.Context, safecheck.CheckRequest) (safecheck.Verdict, error) {
		return safecheck.Verdict{RiskLevel: "low", PassFail: "pass"}, nil
	})
	var guards []*safecheck.Guard
	for range 2 {
		g, err := safecheck.New(check, safecheck.WithCoordinator(fleet.Replica()))
		if err != nil {
			log.Fatal(err)
		}
		defer g.Close(context.Background())
		if _, err := g.Route("chat", safecheck.WithSampleRate(0.1)); err != nil {
			log.Fatal(err)
		}
		guards = append(guards, g)
	}
	if err := guards[0].StartIncident(context.Background(), "INC-1: bad deploy", time.Hour); err != nil {
		log.Fatal(err)
	}
	for guards[1].Stats().Incident == nil { // delivered in the background
		time.Sleep(time.Millisecond)
	}
	s := guards[1].Stats()
	fmt.Println(s.Incident.Reason, s.Routes[0].EffectiveRate, s.Fleet.Mode)
	// Output: INC-1: bad deploy 1 shared
}
