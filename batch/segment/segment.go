package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/sizedalloc"
)

// Name identifies a segment: a partition and the inclusive range of stream
// offsets whose events it holds.
type Name struct {
	Partition   int
	First, Last int64
}

// String is the segment's name in the store:
// p<partition>/<first, 20 digits>-<last, 20 digits>.parquet. Zero padding
// makes the lexical order of one partition's names their offset order.
func (n Name) String() string {
	return fmt.Sprintf("p%d/%020d-%020d.parquet", n.Partition, n.First, n.Last)
}

// ErrBadName is wrapped by Parse's errors.
var ErrBadName = errors.New("not a segment name")

// Parse reads a name written by String.
func Parse(s string) (Name, error) {
	dir, base, ok := strings.Cut(s, "/")
	if !ok || !strings.HasPrefix(dir, "p") || !strings.HasSuffix(base, ".parquet") {
		return Name{}, fmt.Errorf("%w: %q", ErrBadName, s)
	}
	p, err := strconv.Atoi(dir[1:])
	if err != nil || p < 0 {
		return Name{}, fmt.Errorf("%w: %q: partition", ErrBadName, s)
	}
	a, b, ok := strings.Cut(strings.TrimSuffix(base, ".parquet"), "-")
	if !ok || len(a) != 20 || len(b) != 20 {
		return Name{}, fmt.Errorf("%w: %q: offsets", ErrBadName, s)
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return Name{}, fmt.Errorf("%w: %q: offsets", ErrBadName, s)
	}
	return Name{Partition: p, First: first, Last: last}, nil
}

// Column names of a segment. Time is a UTC timestamp in µs.
const (
	ColID          = "id"
	ColTime        = "time"
	ColOrigin      = "origin"
	ColDestination = "destination"
	ColDelay       = "delay"
	ColDistance    = "distance"
	ColProducer    = "producer"
	ColSeq         = "seq"
)

// Schema is the Arrow schema of a segment: the event's fields.
var schema = arrow.NewSchema([]arrow.Field{
	{Name: ColID, Type: arrow.BinaryTypes.String},
	{Name: ColTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: ColOrigin, Type: arrow.BinaryTypes.String},
	{Name: ColDestination, Type: arrow.BinaryTypes.String},
	{Name: ColDelay, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColDistance, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColProducer, Type: arrow.BinaryTypes.String},
	{Name: ColSeq, Type: arrow.PrimitiveTypes.Uint64},
}, nil)

// Schema returns the Arrow schema of a segment.
func Schema() *arrow.Schema { return schema }

// rowGroup bounds a row group: small enough to read a column of one without
// much memory, large enough for Parquet's per-group overhead not to matter.
const rowGroup = 64 * 1024

// Encode returns the Parquet file of events (zstd-compressed columns,
// dictionary-encoded strings, which airport codes compress best with).
func Encode(events []flight.Event) ([]byte, error) { return EncodeEvents(eventSlice(events)) }

// Events is what EncodeEvents writes: Len events, event i read into e by At
// (its strings need to live only until the next call).
type Events interface {
	Len() int
	At(i int, e *flight.Event)
}

type eventSlice []flight.Event

func (s eventSlice) Len() int                  { return len(s) }
func (s eventSlice) At(i int, e *flight.Event) { *e = s[i] }

// EncodeEvents is Encode of events held in any form (the archiver buffers
// them by column, in less than half the memory of a []flight.Event).
func EncodeEvents(events Events) ([]byte, error) {
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(rowGroup))
	fw, err := pqarrow.NewFileWriter(schema, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return nil, fmt.Errorf("segment writer: %w", err)
	}
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	n := events.Len()
	var e flight.Event
	for lo := 0; lo < n || lo == 0; lo += rowGroup {
		hi := min(lo+rowGroup, n)
		b.Reserve(hi - lo)
		id := b.Field(0).(*array.StringBuilder)
		ts := b.Field(1).(*array.TimestampBuilder)
		or := b.Field(2).(*array.StringBuilder)
		de := b.Field(3).(*array.StringBuilder)
		dl := b.Field(4).(*array.Int32Builder)
		di := b.Field(5).(*array.Int32Builder)
		pr := b.Field(6).(*array.StringBuilder)
		sq := b.Field(7).(*array.Uint64Builder)
		for i := lo; i < hi; i++ {
			events.At(i, &e)
			id.Append(e.ID)
			ts.Append(arrow.Timestamp(e.Time))
			or.Append(e.Origin)
			de.Append(e.Destination)
			dl.Append(e.Delay)
			di.Append(e.Distance)
			pr.Append(e.Producer)
			sq.Append(e.Seq)
		}
		rec := b.NewRecordBatch()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("write segment: %w", err)
		}
		if n == 0 {
			break
		}
	}
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("close segment: %w", err)
	}
	return buf.Bytes(), nil
}

// Columns are the columns of a segment read by Scan; unread ones are nil.
type Columns struct {
	ID, Origin, Destination, Producer stringColumn
	Time                              *array.Timestamp
	Delay, Distance                   *array.Int32
	Seq                               *array.Uint64
}

type stringColumn interface {
	Len() int
	Value(int) string
}

// Scan reads the named columns of a segment's Parquet file, one record batch
// at a time, and calls fn with them. Only those columns are decoded.
func Scan(ctx context.Context, data []byte, cols []string, fn func(n int, c *Columns) error) error {
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: rowGroup}, memory.NewGoAllocator())
	if err != nil {
		return fmt.Errorf("read segment: %w", err)
	}
	sc := pf.MetaData().Schema
	idx := make([]int, len(cols))
	for i, c := range cols {
		if idx[i] = sc.ColumnIndexByName(c); idx[i] < 0 {
			return fmt.Errorf("segment has no column %q", c)
		}
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		return fmt.Errorf("read segment: %w", err)
	}
	defer rr.Release()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) || (err == nil && rec == nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read segment: %w", err)
		}
		var c Columns
		for i, name := range cols {
			col := rec.Column(i)
			var ok bool
			switch name {
			case ColID:
				c.ID, ok = col.(stringColumn)
			case ColOrigin:
				c.Origin, ok = col.(stringColumn)
			case ColDestination:
				c.Destination, ok = col.(stringColumn)
			case ColProducer:
				c.Producer, ok = col.(stringColumn)
			case ColTime:
				c.Time, ok = col.(*array.Timestamp)
			case ColDelay:
				c.Delay, ok = col.(*array.Int32)
			case ColDistance:
				c.Distance, ok = col.(*array.Int32)
			case ColSeq:
				c.Seq, ok = col.(*array.Uint64)
			}
			if !ok {
				return fmt.Errorf("segment column %q has type %s", name, col.DataType())
			}
		}
		if err := fn(int(rec.NumRows()), &c); err != nil {
			return err
		}
	}
}

// Decode returns every event of a segment (tests and tools; the recompute
// reads only the columns it needs through Scan).
func Decode(ctx context.Context, data []byte) ([]flight.Event, error) {
	var out []flight.Event
	cols := []string{ColID, ColTime, ColOrigin, ColDestination, ColDelay, ColDistance, ColProducer, ColSeq}
	err := Scan(ctx, data, cols, func(n int, c *Columns) error {
		for i := 0; i < n; i++ {
			out = append(out, flight.Event{
				ID: c.ID.Value(i), Time: int64(c.Time.Value(i)), Origin: c.Origin.Value(i), Destination: c.Destination.Value(i),
				Delay: c.Delay.Value(i), Distance: c.Distance.Value(i), Producer: c.Producer.Value(i), Seq: c.Seq.Value(i),
			})
		}
		return nil
	})
	return out, err
}

// Flights are the columns of a segment that the views read, as ScanFlights
// passes them: the airport codes as dictionary arrays (indices into a small
// dictionary of distinct codes), which is how Parquet stores them, so that
// no string is materialized per event.
type Flights struct {
	Time                []arrow.Timestamp
	Delay               []int32
	Origin, Destination *array.Dictionary
}

// ScanFlights reads the time, origin, destination and delay columns of a
// segment, one record batch at a time.
func ScanFlights(ctx context.Context, data []byte, fn func(n int, f *Flights) error) error {
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	cols := []string{ColTime, ColOrigin, ColDestination, ColDelay}
	idx := make([]int, len(cols))
	for i, c := range cols {
		if idx[i] = sc.ColumnIndexByName(c); idx[i] < 0 {
			return fmt.Errorf("segment has no column %q", c)
		}
	}
	// Batches of 8,192 rows, not a row group's: the dictionary decoder
	// allocates its scratch slices (16 bytes a row) per column chunk at the
	// batch size, ~6 MB per segment with 64 Ki rows, ~1 MB with 8 Ki.
	props := pqarrow.ArrowReadProperties{BatchSize: 8192}
	props.SetReadDict(idx[1], true)
	props.SetReadDict(idx[2], true)
	fr, err := pqarrow.NewFileReader(pf, props, segAlloc)
	if err != nil {
		return fmt.Errorf("read segment: %w", err)
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		return fmt.Errorf("read segment: %w", err)
	}
	defer rr.Release()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) || (err == nil && rec == nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read segment: %w", err)
		}
		ts, ok1 := rec.Column(0).(*array.Timestamp)
		or, ok2 := rec.Column(1).(*array.Dictionary)
		de, ok3 := rec.Column(2).(*array.Dictionary)
		dl, ok4 := rec.Column(3).(*array.Int32)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return fmt.Errorf("segment columns have unexpected types: %s", rec.Schema())
		}
		for _, c := range rec.Columns() {
			if c.NullN() > 0 {
				return fmt.Errorf("segment column has %d nulls", c.NullN())
			}
		}
		if err := fn(int(rec.NumRows()), &Flights{Time: ts.TimestampValues(), Delay: dl.Int32Values(), Origin: or, Destination: de}); err != nil {
			return err
		}
	}
}

// segAlloc is ScanFlights' allocator: it keeps the buffers that the Parquet
// reader frees for the next batches and segments, zeroed like make's.
var segAlloc = sizedalloc.New(true, 16, math.MaxInt)
