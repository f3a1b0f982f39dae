package webhook

import (
	"reflect"
	"testing"
)

func TestByEndpointSumsEndpointsOfOneHost(t *testing.T) {
	s := Stats{Endpoints: []EndpointStats{
		{Endpoint: "https://a.example", CircuitOpen: false, Gone: true,
			Counts: Counts{Offered: 3, Delivered: 2, Dropped: map[DropReason]uint64{DroppedQueueFull: 1}}},
		{Endpoint: "https://b.example", Counts: Counts{Offered: 3, Failed: 3}},
		{Endpoint: "https://a.example", CircuitOpen: true,
			Counts: Counts{Offered: 3, Delivered: 1, Retries: 4, Queued: 1, Dropped: map[DropReason]uint64{DroppedQueueFull: 1}}},
	}}
	got := s.ByEndpoint()
	want := []EndpointStats{
		{Endpoint: "https://a.example", CircuitOpen: true, Gone: false,
			Counts: Counts{Offered: 6, Delivered: 3, Retries: 4, Queued: 1, Dropped: map[DropReason]uint64{DroppedQueueFull: 2}}},
		{Endpoint: "https://b.example", Counts: Counts{Offered: 3, Failed: 3, Dropped: map[DropReason]uint64{}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ByEndpoint\n got %+v\nwant %+v", got, want)
	}
	if s.Endpoints[0].Dropped[DroppedQueueFull] != 1 {
		t.Error("ByEndpoint changed the snapshot's own Dropped map")
	}
}
