package safecheck

import (
	"sync"
	"time"

	"github.com/safecheck/safecheck/failure"
)

const (
	api2xx = iota
	api3xx
	api4xx
	api5xx
	apiNetwork
	numAPIClasses
	apiNone = -1 // the checker sent no request
)

// apiClass returns the class of one call's result: by HTTP status when the
// error carries one, 2xx for a verdict or a 2xx body that could not be
// decoded, network when no answer came, and apiNone when the checker
// refused the request without sending it.
func apiClass(err error) int {
	if err == nil {
		return api2xx
	}
	ce := classify(err)
	switch s := ce.Status; {
	case s >= 200 && s < 300:
		return api2xx
	case s >= 300 && s < 400:
		return api3xx
	case s >= 400 && s < 500:
		return api4xx
	case s >= 500 && s < 600:
		return api5xx
	case s != 0:
		return apiNone
	}
	switch ce.Class {
	case failure.Malformed:
		return api2xx
	case failure.Network, failure.Timeout, failure.Canceled:
		return apiNetwork
	case failure.Server:
		return api5xx
	case failure.RateLimited:
		return api4xx
	}
	return apiNone
}

// recordCall counts one call to the checker by class and, when it reached
// the API, in the last minute's window. It runs on worker goroutines only.
// It is counted at now, the second the call began.
func (p *policies) recordCall(err error, now time.Time) {
	c := apiClass(err)
	if c == apiNone {
		return
	}
	p.classes[c].Add(1)
	p.window.add(now)
}

func (p *policies) requestsByClass() APIRequests {
	return APIRequests{
		Status2xx: p.classes[api2xx].Load(),
		Status3xx: p.classes[api3xx].Load(),
		Status4xx: p.classes[api4xx].Load(),
		Status5xx: p.classes[api5xx].Load(),
		Network:   p.classes[apiNetwork].Load(),
	}
}

// callWindow counts events per second over the last minute. Only workers
// add to it, and Stats reads it; the mutex is never taken on the request
// path.
type callWindow struct {
	mu     sync.Mutex
	secs   [60]int64 // the unix second each slot counts
	counts [60]uint64
}

func (w *callWindow) add(now time.Time) {
	sec := now.Unix()
	i := slot(sec)
	w.mu.Lock()
	if w.secs[i] != sec {
		w.secs[i], w.counts[i] = sec, 0
	}
	w.counts[i]++
	w.mu.Unlock()
}

// count returns the events in the 60 seconds up to and including now's.
func (w *callWindow) count(now time.Time) uint64 {
	sec := now.Unix()
	var n uint64
	w.mu.Lock()
	for i, s := range w.secs {
		if s <= sec && sec-s < int64(len(w.secs)) {
			n += w.counts[i]
		}
	}
	w.mu.Unlock()
	return n
}

func slot(sec int64) int {
	i := int(sec % 60)
	if i < 0 {
		i += 60
	}
	return i
}
