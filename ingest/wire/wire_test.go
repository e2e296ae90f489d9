package wire

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"bytes"

	"github.com/tributary-dev/tributary/flight"
)

func sample(n int) []flight.Event {
	out := make([]flight.Event, n)
	t0 := time.Date(2001, 1, 1, 0, 1, 0, 0, time.UTC).UnixMicro()
	for i := range out {
		out[i] = flight.Event{
			ID: "f3m-" + strings.Repeat("0", 3) + string(rune('a'+i%26)), Time: t0 + int64(i)*60e6,
			Origin: []string{"ATL", "ORD", "LAX"}[i%3], Destination: "SFO", Delay: int32(i%50 - 10),
			Distance: int32(100 + i), Producer: "replay", Seq: uint64(i + 1),
		}
	}
	return out
}

func TestJSONRoundTrip(t *testing.T) {
	for _, e := range append(sample(3), flight.Event{ID: `x"y\\z`, Time: 0, Origin: "ABCD", Destination: "XYZ", Delay: -1116, Distance: 1}) {
		b, err := EncodeJSON(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(nil, ContentTypeJSON+"; charset=utf-8", b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if len(got) != 1 || got[0] != e {
			t.Fatalf("round trip of %+v gave %+v", e, got)
		}
	}
}

func TestArrowRoundTrip(t *testing.T) {
	enc := NewArrowEncoder("replay")
	for _, n := range []int{1, 7, 1000} {
		in := sample(n)
		b, err := enc.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		prefix := []flight.Event{{ID: "keep"}}
		got, err := Decode(prefix, ContentTypeArrow, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n+1 || got[0].ID != "keep" {
			t.Fatalf("got %d events, want %d after the prefix", len(got), n+1)
		}
		for i := range in {
			if got[i+1] != in[i] {
				t.Fatalf("event %d: got %+v want %+v", i, got[i+1], in[i])
			}
		}
	}
	if _, err := enc.Encode([]flight.Event{{ID: "a", Producer: "other"}}); err == nil {
		t.Fatal("encoding another producer's event succeeded")
	}
}

// arrowWith builds an Arrow stream with the given schema and one row of values.
func arrowWith(t *testing.T, fields []arrow.Field, fill func(b *array.RecordBuilder)) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.NewGoAllocator(), arrow.NewSchema(fields, nil))
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func TestDecodeRejects(t *testing.T) {
	good := sample(1)[0]
	goodJSON, _ := EncodeJSON(&good)
	enc := NewArrowEncoder("replay")
	badRow := sample(3)
	badRow[2].Origin = "atl"
	badArrowRows := func() []byte { b, _ := enc.Encode(badRow); return append([]byte(nil), b...) }()
	goodArrow := func() []byte { b, _ := enc.Encode(sample(2)); return append([]byte(nil), b...) }()

	wrongType := append([]arrow.Field(nil), arrowFields...)
	wrongType[4] = arrow.Field{Name: "delay", Type: arrow.PrimitiveTypes.Float64}

	tests := []struct {
		name, ct string
		body     []byte
		field    string // the field the error must name, "" for the message as a whole
		row      int
		contains string
	}{
		{"unknown content type", "text/plain", goodJSON, "", -1, "neither"},
		{"bad content type", ";;", goodJSON, "", -1, "content type"},
		{"empty JSON", ContentTypeJSON, nil, "", -1, "empty body"},
		{"not JSON", ContentTypeJSON, []byte("{nope"), "", -1, "invalid JSON"},
		{"JSON array", ContentTypeJSON, []byte("[1]"), "", -1, "JSON"},
		{"trailing data", ContentTypeJSON, append(append([]byte(nil), goodJSON...), []byte(" {}")...), "", -1, "trailing"},
		{"missing origin", ContentTypeJSON, []byte(`{"id":"a","time":"2001-01-01T00:00:00Z","destination":"LAX","delay":1,"distance":2}`), "origin", -1, "missing"},
		{"unknown field", ContentTypeJSON, []byte(`{"id":"a","orgin":"ATL"}`), "", -1, "unknown field"},
		{"delay as string", ContentTypeJSON, []byte(`{"id":"a","time":"2001-01-01T00:00:00Z","origin":"ATL","destination":"LAX","delay":"5","distance":2}`), "delay", -1, "want number"},
		{"fractional delay", ContentTypeJSON, []byte(`{"id":"a","time":"2001-01-01T00:00:00Z","origin":"ATL","destination":"LAX","delay":1.5,"distance":2}`), "delay", -1, "whole"},
		{"bad time", ContentTypeJSON, []byte(`{"id":"a","time":"yesterday","origin":"ATL","destination":"LAX","delay":1,"distance":2}`), "time", -1, "RFC 3339"},
		{"huge delay", ContentTypeJSON, []byte(`{"id":"a","time":"2001-01-01T00:00:00Z","origin":"ATL","destination":"LAX","delay":1e300,"distance":2}`), "delay", -1, ""},
		{"lowercase destination", ContentTypeJSON, []byte(`{"id":"a","time":"2001-01-01T00:00:00Z","origin":"ATL","destination":"lax","delay":1,"distance":2}`), "destination", -1, "A-Z"},
		{"negative seq", ContentTypeJSON, []byte(`{"id":"a","time":"2001-01-01T00:00:00Z","origin":"ATL","destination":"LAX","delay":1,"distance":2,"producer":"p","seq":-1}`), "seq", -1, "outside"},
		{"not arrow", ContentTypeArrow, goodJSON, "", -1, "Arrow"},
		{"truncated arrow", ContentTypeArrow, goodArrow[:len(goodArrow)/2], "", -1, "Arrow"},
		{"bad row in arrow", ContentTypeArrow, badArrowRows, "origin", 2, "A-Z"},
		{"wrong column type", ContentTypeArrow, arrowWith(t, wrongType, func(b *array.RecordBuilder) {}), "delay", -1, "float64"},
		{"missing columns", ContentTypeArrow, arrowWith(t, arrowFields[:3], func(b *array.RecordBuilder) {}), "", -1, "columns"},
		{"no rows", ContentTypeArrow, arrowWith(t, arrowFields, func(b *array.RecordBuilder) {}), "", -1, "no events"},
		{"null value", ContentTypeArrow, arrowWith(t, arrowFields, func(b *array.RecordBuilder) { fillRow(b, good, 5) }), "distance", 0, "null"},
		{"too big", ContentTypeJSON, make([]byte, MaxMessageBytes+1), "", -1, "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]flight.Event{good}, tt.ct, tt.body)
			checkRejected(t, err, tt.body, tt.field, tt.row, tt.contains)
			if len(got) != 1 {
				t.Fatalf("a refused message left %d events behind", len(got)-1)
			}
		})
	}
}

// fillRow appends one row of good values to b, a null in column nullCol.
func fillRow(b *array.RecordBuilder, good flight.Event, nullCol int) {
	for i := range arrowFields {
		if i == nullCol {
			b.Field(i).AppendNull()
			continue
		}
		switch fb := b.Field(i).(type) {
		case *array.StringBuilder:
			fb.Append("ATL")
		case *array.TimestampBuilder:
			fb.Append(arrow.Timestamp(good.Time))
		case *array.Int32Builder:
			fb.Append(10)
		case *array.Uint64Builder:
			fb.Append(1)
		}
	}
}

// checkRejected checks that Decode refused body with a *DecodeError
// wrapping ErrMalformed that names field and row and says contains.
func checkRejected(t *testing.T, err error, body []byte, field string, row int, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Decode accepted %q", body)
	}
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v (%T) is not a *DecodeError wrapping ErrMalformed", err, err)
	}
	if de.Field != field || de.Row != row {
		t.Fatalf("error %q names field %q row %d, want field %q row %d", err, de.Field, de.Row, field, row)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not say %q", err, contains)
	}
}
