package extract

import (
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestConcurrent runs the shared default extractor and its buffer pool from
// several goroutines, as the workers do; run with -race.
func TestConcurrent(t *testing.T) {
	dirs := goldenDirs(t)
	inputs := make([]Input, len(dirs))
	want := make([]Pair, len(dirs))
	for i, dir := range dirs {
		inputs[i] = loadGolden(t, dir)
		want[i], _ = Extract(inputs[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 20 {
				i := (g*7 + round) % len(inputs)
				if got, _ := Extract(inputs[i]); got != want[i] {
					t.Errorf("%s: got %+v, want %+v", dirs[i], got, want[i])
				}
			}
		})
	}
	wg.Wait()
}
