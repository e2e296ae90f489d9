package wire

import (
	"testing"

	"github.com/tributary-dev/tributary/flight"
)

// The fuzz targets check that no input makes a decoder panic, and that what a
// decoder accepts is valid and encodes back to the same events.

func FuzzDecodeJSON(f *testing.F) {
	for _, e := range sample(3) {
		b, _ := EncodeJSON(&e)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","time":"2001-01-01T00:00:00Z","origin":"ATL","destination":"LAX","delay":1,"distance":2}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := DecodeJSON(body)
		if err != nil {
			return
		}
		if verr := e.Validate(); verr != nil {
			t.Fatalf("accepted an invalid event %+v: %v", e, verr)
		}
		b, err := EncodeJSON(&e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeJSON(b)
		if err != nil || again != e {
			t.Fatalf("re-encoding %+v gave %+v, %v", e, again, err)
		}
	})
}

func FuzzDecodeArrow(f *testing.F) {
	enc := NewArrowEncoder("replay")
	for _, n := range []int{1, 5} {
		b, _ := enc.Encode(sample(n))
		f.Add(append([]byte(nil), b...))
	}
	f.Add([]byte("ARROW1"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeArrow(nil, body)
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("refused message left %d events", len(got))
			}
			return
		}
		for i := range got {
			if verr := got[i].Validate(); verr != nil {
				t.Fatalf("accepted an invalid event %+v: %v", got[i], verr)
			}
		}
		producer := got[0].Producer
		for i := range got {
			if got[i].Producer != producer {
				t.Fatalf("one batch with two producers")
			}
		}
		b, err := NewArrowEncoder(producer).Encode(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeArrow(nil, b)
		if err != nil || len(again) != len(got) {
			t.Fatalf("re-encoding gave %d events, %v", len(again), err)
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("event %d changed: %+v -> %+v", i, got[i], again[i])
			}
		}
	})
}

var _ = flight.Event{}
