package archive

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/flight"
)

// TestBufferRoundTrip: events held by column, written as a segment and read
// back, are the events added, in order, for two segments in a row through
// the same (reset) buffer; strings added from a reused byte buffer are the
// buffer's own copies.
func TestBufferRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	airports := []string{"ATL", "BOS", "DEN", "JFK", "LAX"}
	var b buffer
	for round := range 2 {
		var want []flight.Event
		scratch := []byte("XXXXXXXXXXXX")
		for i := range 70_000 + round*1000 { // more than a row group
			e := flight.Event{ID: fmt.Sprintf("f-%d-%d", round, i), Time: 978307200e6 + rng.Int64N(1e12),
				Origin: airports[rng.IntN(len(airports))], Destination: airports[rng.IntN(len(airports))],
				Delay: int32(rng.IntN(2000) - 1000), Distance: int32(rng.IntN(3000)), Producer: "replay", Seq: uint64(i + 1)}
			if i%7 == 0 {
				e.Producer = "other"
			}
			want = append(want, e)
			// The archiver decodes events whose strings may point into a
			// message body that is reused: add from such a buffer.
			copy(scratch, e.Origin)
			e.Origin = unsafe.String(&scratch[0], len(e.Origin)) // aliases scratch
			b.add(&e)
			copy(scratch, "ZZZ")
		}
		data, err := segment.EncodeEvents(&b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := segment.Decode(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() != len(want) || !slices.Equal(got, want) {
			t.Fatalf("round %d: %d events read back (buffer %d), want %d; equal: %v", round, len(got), b.Len(), len(want), slices.Equal(got, want))
		}
		b.reset()
		if b.Len() != 0 {
			t.Fatalf("reset left %d events", b.Len())
		}
	}
}
