package wire

import (
	"bytes"
	"fmt"
	"unique"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tributary-dev/tributary/flight"
)

// ProducerMetadataKey is the schema metadata key that names an Arrow batch's producer.
const ProducerMetadataKey = "tributary.producer"

// MaxBatchRows bounds the events of one Arrow message.
const MaxBatchRows = 1 << 20

// Column order and types of an Arrow batch of events. Nulls are refused.
var arrowFields = []arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "origin", Type: arrow.BinaryTypes.String},
	{Name: "destination", Type: arrow.BinaryTypes.String},
	{Name: "delay", Type: arrow.PrimitiveTypes.Int32},
	{Name: "distance", Type: arrow.PrimitiveTypes.Int32},
	{Name: "seq", Type: arrow.PrimitiveTypes.Uint64},
}

// ArrowSchema returns the schema of an Arrow batch of events from producer.
func ArrowSchema(producer string) *arrow.Schema {
	md := arrow.NewMetadata([]string{ProducerMetadataKey}, []string{producer})
	return arrow.NewSchema(arrowFields, &md)
}

// ArrowEncoder encodes batches of events as Arrow IPC streams. It reuses its
// builders and buffer across calls; it is not safe for concurrent use.
type ArrowEncoder struct {
	producer string
	b        *array.RecordBuilder
	buf      bytes.Buffer
}

// NewArrowEncoder returns an encoder for events of one producer.
func NewArrowEncoder(producer string) *ArrowEncoder {
	return &ArrowEncoder{producer: producer, b: array.NewRecordBuilder(memory.NewGoAllocator(), ArrowSchema(producer))}
}

// Encode returns the Arrow IPC stream of events. The returned slice is valid
// until the next call. Every event must come from the encoder's producer.
func (a *ArrowEncoder) Encode(events []flight.Event) ([]byte, error) {
	id := a.b.Field(0).(*array.StringBuilder)
	ts := a.b.Field(1).(*array.TimestampBuilder)
	or := a.b.Field(2).(*array.StringBuilder)
	de := a.b.Field(3).(*array.StringBuilder)
	dl := a.b.Field(4).(*array.Int32Builder)
	di := a.b.Field(5).(*array.Int32Builder)
	sq := a.b.Field(6).(*array.Uint64Builder)
	// NewRecordBatch leaves the builders empty: size them once rather than
	// let every append regrow them.
	a.b.Reserve(len(events))
	id.ReserveData(len(events) * 12)
	or.ReserveData(len(events) * 3)
	de.ReserveData(len(events) * 3)
	for i := range events {
		e := &events[i]
		if e.Producer != a.producer {
			return nil, fmt.Errorf("event %s has producer %q, the encoder %q", e.ID, e.Producer, a.producer)
		}
		id.Append(e.ID)
		ts.Append(arrow.Timestamp(e.Time))
		or.Append(e.Origin)
		de.Append(e.Destination)
		dl.Append(e.Delay)
		di.Append(e.Distance)
		sq.Append(e.Seq)
	}
	rec := a.b.NewRecordBatch()
	defer rec.Release()
	a.buf.Reset()
	w := ipc.NewWriter(&a.buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("write arrow batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close arrow stream: %w", err)
	}
	return a.buf.Bytes(), nil
}

// DecodeArrow appends the events of an Arrow IPC stream to dst, validating the
// schema and every value. On error dst is returned unchanged.
func DecodeArrow(dst []flight.Event, body []byte) (out []flight.Event, err error) {
	n0 := len(dst)
	// The IPC reader trusts flatbuffer offsets; a crafted message can make it
	// panic. A panic here is bad input, not a bug of the caller.
	defer func() {
		if r := recover(); r != nil {
			out, err = dst[:n0], malformed(-1, "", "corrupt Arrow IPC stream: %v", r)
		}
	}()
	if err := checkIPC(body); err != nil {
		return dst, malformed(-1, "", "not a valid Arrow IPC stream: %v", err)
	}
	r, err := ipc.NewReader(bytes.NewReader(body), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return dst, malformed(-1, "", "not an Arrow IPC stream: %v", err)
	}
	defer r.Release()
	schema := r.Schema()
	if err := checkSchema(schema); err != nil {
		return dst, err
	}
	producer, _ := schema.Metadata().GetValue(ProducerMetadataKey)
	rows := 0
	for r.Next() {
		rec := r.RecordBatch()
		rows += int(rec.NumRows())
		if rows > MaxBatchRows {
			return dst[:n0], malformed(-1, "", "more than %d events in one message", MaxBatchRows)
		}
		dst, err = appendRecord(dst, rec, producer, rows-int(rec.NumRows()))
		if err != nil {
			return dst[:n0], err
		}
	}
	if err := r.Err(); err != nil {
		return dst[:n0], malformed(-1, "", "corrupt Arrow IPC stream: %v", err)
	}
	if rows == 0 {
		return dst[:n0], malformed(-1, "", "Arrow stream holds no events")
	}
	return dst, nil
}

func checkSchema(s *arrow.Schema) error {
	if s.NumFields() != len(arrowFields) {
		return malformed(-1, "", "Arrow schema has %d columns, want %d (%s)", s.NumFields(), len(arrowFields), columnNames())
	}
	for i, want := range arrowFields {
		got := s.Field(i)
		if got.Name != want.Name {
			return malformed(-1, want.Name, "column %d is named %q, want %q", i, got.Name, want.Name)
		}
		if !arrow.TypeEqual(got.Type, want.Type) {
			return malformed(-1, want.Name, "has Arrow type %s, want %s", got.Type, want.Type)
		}
	}
	return nil
}

func columnNames() string {
	s := ""
	for i, f := range arrowFields {
		if i > 0 {
			s += ", "
		}
		s += f.Name
	}
	return s
}

func appendRecord(dst []flight.Event, rec arrow.RecordBatch, producer string, base int) ([]flight.Event, error) {
	n := int(rec.NumRows())
	for c := 0; c < int(rec.NumCols()); c++ {
		col := rec.Column(c)
		if col.Len() != n {
			return dst, malformed(-1, arrowFields[c].Name, "has %d values for %d rows", col.Len(), n)
		}
		if col.NullN() > 0 {
			for i := 0; i < n; i++ {
				if col.IsNull(i) {
					return dst, malformed(base+i, arrowFields[c].Name, "is null")
				}
			}
		}
	}
	id := rec.Column(0).(*array.String)
	ts := rec.Column(1).(*array.Timestamp)
	or := rec.Column(2).(*array.String)
	de := rec.Column(3).(*array.String)
	dl := rec.Column(4).(*array.Int32)
	di := rec.Column(5).(*array.Int32)
	sq := rec.Column(6).(*array.Uint64)
	for i := 0; i < n; i++ {
		e := flight.Event{
			ID: id.Value(i), Time: int64(ts.Value(i)), Origin: or.Value(i), Destination: de.Value(i),
			Delay: dl.Value(i), Distance: di.Value(i), Producer: producer, Seq: sq.Value(i),
		}
		// Strings from the batch share its buffer, which is released with it.
		e.ID, e.Origin, e.Destination = clone(e.ID), intern(e.Origin), intern(e.Destination)
		if err := e.Validate(); err != nil {
			return dst, invalid(base+i, err)
		}
		dst = append(dst, e)
	}
	return dst, nil
}

func clone(s string) string { return string([]byte(s)) }

// intern avoids one allocation per airport code: codes are few, events many.
// unique.Make copies the string when it first sees it.
func intern(s string) string { return unique.Make(s).Value() }
