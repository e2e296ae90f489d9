package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tributary-dev/tributary/flight"
)

// Columns of the data set, in the order they are read.
var columns = []string{"date", "delay", "distance", "origin", "destination"}

// EventID returns the stable ID of row i of the data set: "f3m-" and the row
// number on at least 7 digits.
func EventID(row int64) string {
	var b [24]byte
	return string(appendID(b[:0], row))
}

// appendID is EventID without fmt, which costs a tenth of the replay on the hot path.
func appendID(dst []byte, row int64) []byte {
	dst = append(dst, "f3m-"...)
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], row, 10)
	for i := len(d); i < 7; i++ {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}

// File is an open data set.
type File struct {
	pf   *file.Reader
	fr   *pqarrow.FileReader
	cols []int
	// codes canonicalises airport codes: a few hundred strings shared by
	// millions of events, looked up without allocating.
	codes map[string]string
}

// Open opens a data set file and checks that it has the expected columns.
func Open(path string) (*File, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("open data set %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 16384}, memory.NewGoAllocator())
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read data set %s: %w", path, err)
	}
	f := &File{pf: pf, fr: fr, codes: make(map[string]string)}
	sc := pf.MetaData().Schema
	for _, name := range columns {
		i := sc.ColumnIndexByName(name)
		if i < 0 {
			pf.Close()
			return nil, fmt.Errorf("data set %s has no column %q", path, name)
		}
		f.cols = append(f.cols, i)
	}
	return f, nil
}

// Close releases the file.
func (f *File) Close() error { return f.pf.Close() }

// NumRows is the number of rows (flights) in the file.
func (f *File) NumRows() int64 { return f.pf.NumRows() }

// Batch is a slice of consecutive rows turned into events.
type Batch struct {
	// FirstRow is the row index of Events[0]; rows that were skipped as
	// invalid leave gaps, reported in Skipped.
	FirstRow int64
	// Events holds the valid rows, in file order. Producer and Seq are unset.
	Events []flight.Event
	// Rows is how many rows the batch covers, valid or not.
	Rows int64
	// Skipped lists the rows of the batch that are not valid events, and why.
	Skipped []SkippedRow
}

// SkippedRow is a row of the file that is not a valid event.
type SkippedRow struct {
	Row int64
	Err error
}

// Scan calls fn with consecutive batches of the rows in [from, to) (to < 0
// means the end of the file). The batch and its slices are reused after fn
// returns. Rows are read one record batch at a time.
func (f *File) Scan(ctx context.Context, from, to int64, fn func(*Batch) error) error {
	if to < 0 || to > f.NumRows() {
		to = f.NumRows()
	}
	if from < 0 || from > to {
		return fmt.Errorf("scan rows [%d, %d): bad range for a file of %d rows", from, to, f.NumRows())
	}
	// Start at the row group holding `from`; skip the rows before it.
	var groups []int
	var groupStart, skip int64
	for g := 0; g < f.pf.NumRowGroups(); g++ {
		n := f.pf.MetaData().RowGroup(g).NumRows()
		if groupStart+n <= from && len(groups) == 0 {
			groupStart += n
			continue
		}
		if len(groups) == 0 {
			skip = from - groupStart
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return nil
	}
	rr, err := f.fr.GetRecordReader(ctx, f.cols, groups)
	if err != nil {
		return fmt.Errorf("read data set: %w", err)
	}
	defer rr.Release()
	row := from - skip
	b := &Batch{}
	for row < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) || (err == nil && rec == nil) {
			break
		}
		if err != nil {
			return fmt.Errorf("read data set at row %d: %w", row, err)
		}
		n := rec.NumRows()
		lo, hi := int64(0), n
		if row < from {
			lo = from - row
		}
		if row+n > to {
			hi = to - row
		}
		if lo < hi {
			if err := f.fill(b, rec, row, lo, hi); err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		row += n
	}
	return nil
}

type stringColumn interface {
	IsNull(int) bool
	Value(int) string
}

func (f *File) fill(b *Batch, rec arrow.RecordBatch, base, lo, hi int64) error {
	date, ok1 := rec.Column(0).(*array.Timestamp)
	delay, ok2 := rec.Column(1).(*array.Int64)
	dist, ok3 := rec.Column(2).(*array.Int64)
	// The file's Arrow schema says large_utf8; accept plain utf8 too.
	orig, ok4 := rec.Column(3).(stringColumn)
	dest, ok5 := rec.Column(4).(stringColumn)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return fmt.Errorf("data set columns have unexpected types: %s", rec.Schema())
	}
	b.FirstRow, b.Rows = base+lo, hi-lo
	b.Events, b.Skipped = b.Events[:0], b.Skipped[:0]
	var idBuf []byte
	for i := lo; i < hi; i++ {
		r := base + i
		ii := int(i)
		if date.IsNull(ii) || delay.IsNull(ii) || dist.IsNull(ii) || orig.IsNull(ii) || dest.IsNull(ii) {
			b.Skipped = append(b.Skipped, SkippedRow{r, errors.New("a column is null")})
			continue
		}
		d, km := delay.Value(ii), dist.Value(ii)
		if d < flight.MinDelay || d > flight.MaxDelay || km < 0 || km > flight.MaxDistance {
			b.Skipped = append(b.Skipped, SkippedRow{r, fmt.Errorf("delay %d or distance %d out of range", d, km)})
			continue
		}
		idBuf = appendID(idBuf[:0], r)
		e := flight.Event{
			ID: string(idBuf), Time: int64(date.Value(ii)), Origin: orig.Value(ii), Destination: dest.Value(ii),
			Delay: int32(d), Distance: int32(km),
		}
		if err := e.Validate(); err != nil {
			b.Skipped = append(b.Skipped, SkippedRow{r, err})
			continue
		}
		// The strings point into the record's buffers, which the next Read reuses.
		e.Origin, e.Destination = f.code(e.Origin), f.code(e.Destination)
		b.Events = append(b.Events, e)
	}
	return nil
}

// code returns the canonical copy of an airport code.
func (f *File) code(s string) string {
	if c, ok := f.codes[s]; ok {
		return c
	}
	c := strings.Clone(s)
	f.codes[c] = c
	return c
}
