package progress_test

import (
	"os"

	"github.com/safecheck/safecheck/cmd/safecheck/internal/progress"
)

func ExampleNew() {
	// Plain lines at every 10 % (no timed lines, so the output is
	// deterministic); on a terminal, Auto would draw a bar instead.
	r, err := progress.New(os.Stdout, 4, progress.WithMode(progress.Plain), progress.WithInterval(0), progress.WithLabel("eval"))
	if err != nil {
		panic(err)
	}
	r.Add(false, false)
	r.Add(true, false)
	r.Finish() // interrupted halfway: a final line says where it stopped
	// Output is like:
	// eval: 1/4 pairs (25%), 3512.0/s, elapsed 0s, eta 0s, flagged 0, errors 0
	// eval: 2/4 pairs (50%), 6940.1/s, elapsed 0s, eta 0s, flagged 1, errors 0
	// eval: 2/4 pairs (50%), 6201.6/s, elapsed 0s, eta 0s, flagged 1, errors 0
}
