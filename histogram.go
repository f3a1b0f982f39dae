package safecheck

import (
	"math"
	"slices"
)

// latencyBounds are the upper bounds, in seconds, of every check duration
// histogram in Stats: 0.001 × 2^i for i from 0 to 17, 1 ms doubling up to
// about 131 s, past the default attempt timeout.
var latencyBounds = func() []float64 {
	b := make([]float64, 18)
	for i := range b {
		b[i] = 0.001 * float64(uint64(1)<<i)
	}
	return b
}()

// scoreBounds are the upper bounds of every score histogram in Stats: 0.1
// to 1 by 0.1, written out so that each bound is the nearest float64 to its decimal.
var scoreBounds = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}

// LatencyBounds returns the upper bounds, in seconds, of the buckets of
// every check duration histogram in Stats: 0.001 × 2^i for i from 0 to 17.
// The slice is a fresh copy.
func LatencyBounds() []float64 { return slices.Clone(latencyBounds) }

// ScoreBounds returns the upper bounds of the buckets of every score
// histogram in Stats: 0.1, 0.2, …, 1. The slice is a fresh copy.
func ScoreBounds() []float64 { return slices.Clone(scoreBounds) }

// Histogram is a snapshot of a distribution over fixed buckets, in the
// shape Prometheus and OpenTelemetry use: bucket i holds the observations
// v with Bounds[i-1] < v <= Bounds[i], and one last bucket holds those
// above every bound.
type Histogram struct {
	// Bounds are the buckets' inclusive upper bounds, ascending.
	Bounds []float64
	// Counts has len(Bounds)+1 entries: the observations in each bucket,
	// not cumulative; the last is the bucket above every bound.
	Counts []uint64
	// Count is the number of observations, the sum of Counts.
	Count uint64
	// Sum is the sum of the observed values.
	Sum float64
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations the
// way Prometheus' histogram_quantile does: it finds the bucket holding the
// rank q × Count and interpolates linearly within it, taking 0 as the lower
// edge of the first bucket. A quantile that falls above every bound is
// reported as the highest bound. Quantile returns NaN when the histogram
// is empty or q is outside [0, 1].
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 || !(q >= 0 && q <= 1) || len(h.Counts) != len(h.Bounds)+1 {
		return math.NaN()
	}
	rank := q * float64(h.Count)
	var cum uint64
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		if float64(cum+n) >= rank {
			if i == len(h.Bounds) {
				return h.Bounds[len(h.Bounds)-1]
			}
			lower := 0.0
			if i > 0 {
				lower = h.Bounds[i-1]
			}
			upper := h.Bounds[i]
			return lower + (upper-lower)*(rank-float64(cum))/float64(n)
		}
		cum += n
	}
	return h.Bounds[len(h.Bounds)-1] // unreachable: the counts add up to Count
}

// Cumulative returns, for each bound, how many observations are at or below
// it, as Prometheus' const histograms take them.
func (h Histogram) Cumulative() map[float64]uint64 {
	m := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		m[b] = cum
	}
	return m
}

// merge adds o's observations to h; both must have the same bounds.
func (h *Histogram) merge(o Histogram) {
	if h.Counts == nil {
		h.Bounds = slices.Clone(o.Bounds)
		h.Counts = make([]uint64, len(o.Counts))
	}
	for i, n := range o.Counts {
		h.Counts[i] += n
	}
	h.Count += o.Count
	h.Sum += o.Sum
}

// hist is a histogram being recorded. Its owner serialises access (the
// counters' mutex, held only on worker goroutines).
type hist struct {
	bounds []float64
	counts []uint64
	count  uint64
	sum    float64
}

func newHist(bounds []float64) hist {
	return hist{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

// observe records v; NaN is ignored.
func (h *hist) observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v
	h.counts[i]++
	h.count++
	h.sum += v
}

func (h *hist) snapshot() Histogram {
	return Histogram{
		Bounds: slices.Clone(h.bounds),
		Counts: slices.Clone(h.counts),
		Count:  h.count,
		Sum:    h.sum,
	}
}
