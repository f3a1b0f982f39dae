package safecheck

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/safecheck/safecheck/failure"
)

func TestHistogramQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	tests := []struct {
		name   string
		counts []uint64
		q      float64
		want   float64
	}{
		{"empty", []uint64{0, 0, 0, 0}, 0.5, math.NaN()},
		{"q below 0", []uint64{1, 0, 0, 0}, -0.1, math.NaN()},
		{"q above 1", []uint64{1, 0, 0, 0}, 1.1, math.NaN()},
		{"q NaN", []uint64{1, 0, 0, 0}, math.NaN(), math.NaN()},
		{"median of first bucket", []uint64{2, 0, 0, 0}, 0.5, 0.5},
		{"interpolates from the previous bound", []uint64{0, 4, 0, 0}, 0.25, 1.25},
		{"spans buckets", []uint64{2, 2, 0, 0}, 0.75, 1.5},
		{"skips empty buckets", []uint64{1, 0, 1, 0}, 1, 4},
		{"q 0 is the lower edge of the first filled bucket", []uint64{0, 0, 3, 0}, 0, 2},
		{"above every bound", []uint64{1, 0, 0, 3}, 0.9, 4},
		{"mismatched counts", []uint64{1, 1}, 0.5, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n uint64
			for _, c := range tc.counts {
				n += c
			}
			h := Histogram{Bounds: bounds, Counts: tc.counts, Count: n}
			got := h.Quantile(tc.q)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestHistogramObserve(t *testing.T) {
	tests := []struct {
		v      float64
		bucket int // -1: not recorded
	}{
		{-0.5, 0}, {0, 0}, {0.05, 0}, {0.1, 0}, {0.10000001, 1}, {0.5, 4}, {0.85, 8}, {0.9, 8},
		{0.95, 9}, {1, 9}, {1.5, 10}, {math.Inf(1), 10}, {math.NaN(), -1},
	}
	for _, tc := range tests {
		h := newHist(scoreBounds)
		h.observe(tc.v)
		s := h.snapshot()
		want := make([]uint64, len(scoreBounds)+1)
		wantCount := uint64(0)
		if tc.bucket >= 0 {
			want[tc.bucket], wantCount = 1, 1
		}
		if !slices.Equal(s.Counts, want) || s.Count != wantCount {
			t.Errorf("observe(%v): counts %v (count %d), want %v (count %d)", tc.v, s.Counts, s.Count, want, wantCount)
		}
	}
}

func TestHistogramSnapshotIsACopy(t *testing.T) {
	h := newHist(latencyBounds)
	h.observe(0.003)
	s := h.snapshot()
	s.Counts[0] = 99
	s.Bounds[0] = 99
	h.observe(0.003)
	if got := h.snapshot(); got.Counts[2] != 2 || got.Counts[0] != 0 || got.Bounds[0] != 0.001 || latencyBounds[0] != 0.001 {
		t.Errorf("a snapshot shares memory with the histogram: %+v", got)
	}
	if s.Sum != 0.003 {
		t.Errorf("Sum = %v, want 0.003", s.Sum)
	}
}

func TestBounds(t *testing.T) {
	lat := slices.Clone(latencyBounds)
	if len(lat) != 18 || lat[0] != 0.001 || lat[10] != 1.024 || lat[17] != 131.072 {
		t.Errorf("slices.Clone(latencyBounds) = %v", lat)
	}
	if !slices.IsSorted(lat) {
		t.Errorf("slices.Clone(latencyBounds) is not ascending: %v", lat)
	}
	lat[0] = 5
	if slices.Clone(latencyBounds)[0] != 0.001 {
		t.Error("LatencyBounds returns shared memory")
	}
	want := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
	if got := slices.Clone(scoreBounds); !slices.Equal(got, want) {
		t.Errorf("slices.Clone(scoreBounds) = %v, want %v", got, want)
	}
}

func TestHistogramCumulative(t *testing.T) {
	h := Histogram{Bounds: []float64{1, 2, 4}, Counts: []uint64{1, 0, 2, 5}, Count: 8}
	got := h.Cumulative()
	want := map[float64]uint64{1: 1, 2: 1, 4: 3}
	if len(got) != len(want) {
		t.Fatalf("Cumulative() = %v, want %v", got, want)
	}
	for b, n := range want {
		if got[b] != n {
			t.Errorf("Cumulative()[%v] = %d, want %d", b, got[b], n)
		}
	}
}

func TestAPIClass(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"verdict", nil, api2xx},
		{"429", &CheckError{Class: failure.RateLimited, Status: 429}, api4xx},
		{"400", &CheckError{Class: failure.BadRequest, Status: 400}, api4xx},
		{"401", &CheckError{Class: failure.Unauthorized, Status: 401}, api4xx},
		{"503", &CheckError{Class: failure.Server, Status: 503}, api5xx},
		{"302", &CheckError{Class: failure.BadRequest, Status: 302}, api3xx},
		{"malformed 2xx body", &CheckError{Class: failure.Malformed}, api2xx},
		{"network", &CheckError{Class: failure.Network}, apiNetwork},
		{"untyped error", errors.New("connection reset"), apiNetwork},
		{"timeout", &CheckError{Class: failure.Timeout}, apiNetwork},
		{"canceled", &CheckError{Class: failure.Canceled}, apiNetwork},
		{"server error without status", &CheckError{Class: failure.Server}, api5xx},
		{"refused locally", &CheckError{Class: failure.BadRequest}, apiNone},
		{"no key", &CheckError{Class: failure.Unauthorized}, apiNone},
		{"panic", &CheckError{Class: failure.Panic}, apiNone},
		{"nonsense status", &CheckError{Class: failure.Server, Status: 999}, apiNone},
	}
	for _, tc := range tests {
		if got := apiClass(tc.err); got != tc.want {
			t.Errorf("%s: apiClass = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFailureClassesFit(t *testing.T) {
	if n := len(failure.Classes()); n >= maxClasses {
		t.Fatalf("%d failure classes do not fit counters of %d", n, maxClasses)
	}
}
