package partial

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tributary-dev/tributary/flight"
)

// ViewsMetadataKey is the schema metadata key listing the views of an aggregate.
const ViewsMetadataKey = "tributary.views"

var fields = []arrow.Field{
	{Name: "group", Type: arrow.BinaryTypes.String},
	{Name: "hour", Type: arrow.PrimitiveTypes.Int64},
	{Name: "count", Type: arrow.PrimitiveTypes.Int64},
	{Name: "sum", Type: arrow.PrimitiveTypes.Int64},
	{Name: "delayed", Type: arrow.PrimitiveTypes.Int64},
	{Name: "min", Type: arrow.PrimitiveTypes.Int32},
	{Name: "max", Type: arrow.PrimitiveTypes.Int32},
	{Name: "hist_delays", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)},
	{Name: "hist_counts", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
	{Name: "destinations", Type: arrow.ListOf(arrow.BinaryTypes.String)},
}

func schemaOf(views []flight.View) *arrow.Schema {
	names := make([]string, len(views))
	for i, v := range views {
		names[i] = v.Name
	}
	md := arrow.NewMetadata([]string{ViewsMetadataKey}, []string{strings.Join(names, ",")})
	return arrow.NewSchema(fields, &md)
}

// writer encodes one aggregate: one record batch per view.
type writer struct {
	views  []flight.View
	schema *arrow.Schema
	recs   []arrow.RecordBatch
	cur    *tableBuilder
	used   []*tableBuilder
}

func newWriter(views []flight.View) *writer {
	return &writer{views: views, schema: schemaOf(views), recs: make([]arrow.RecordBatch, len(views))}
}

// table starts the batch of view vi (views must be started in order); rows
// is a capacity hint.
func (w *writer) table(vi int, rows int) *tableBuilder {
	w.flush()
	t, ok := tbPool.get()
	if !ok {
		t = &tableBuilder{}
	}
	t.vi = vi
	t.groupOff = append(slices.Grow(t.groupOff[:0], rows+1), 0)
	t.groupData = slices.Grow(t.groupData[:0], rows*4)
	t.hour = slices.Grow(t.hour[:0], rows)
	t.count = slices.Grow(t.count[:0], rows)
	t.sum = slices.Grow(t.sum[:0], rows)
	t.delayed = slices.Grow(t.delayed[:0], rows)
	t.min = slices.Grow(t.min[:0], rows)
	t.max = slices.Grow(t.max[:0], rows)
	t.hdOff = append(slices.Grow(t.hdOff[:0], rows+1), 0)
	t.hcOff = append(slices.Grow(t.hcOff[:0], rows+1), 0)
	t.dsOff = append(slices.Grow(t.dsOff[:0], rows+1), 0)
	t.hdv, t.hcv = t.hdv[:0], t.hcv[:0]
	t.dsvOff, t.dsvData = append(t.dsvOff[:0], 0), t.dsvData[:0]
	w.cur = t
	w.used = append(w.used, t)
	return t
}

// tbPool holds table builders whose slices the next aggregates reuse: a
// worker encodes one aggregate after another, and fresh memory costs page
// faults and garbage collection.
var tbPool freeList[*tableBuilder]

// maxPooledRows bounds the tables kept for reuse (a segment's partial has
// ~100,000 rows; merged nodes can be much larger).
const maxPooledRows = 1 << 20

// recycle returns the writer's table builders to the pool, once nothing
// refers to their slices any more.
func (w *writer) recycle() {
	for _, t := range w.used {
		if cap(t.hour) <= maxPooledRows { // keep no giant merge's arrays
			tbPool.put(t)
		}
	}
	w.used = nil
}

func (w *writer) flush() {
	if w.cur != nil {
		w.recs[w.cur.vi] = w.cur.record(w.schema)
		w.cur = nil
	}
}

// Codec is the compression of the buffers of encoded aggregates: "lz4",
// "zstd" or "" (none). Decode reads them all.
var Codec = "lz4"

// outPool holds the arrays of encoded aggregates given back by Recycle.
var outPool freeList[[]byte]

func getOut() []byte {
	if b, ok := outPool.get(); ok {
		return b[:0]
	}
	return nil
}

// Recycle gives back an encoded aggregate (of Encode, Merge...) that the
// caller no longer uses, to be reused by the next one: a worker writes an
// aggregate to Redis, then drops it.
func Recycle(b []byte) {
	if cap(b) > 0 && cap(b) <= 64<<20 {
		outPool.put(b)
	}
}

// finish writes the IPC stream.
func (w *writer) finish() ([]byte, error) {
	out, _, err := w.finishRows()
	return out, err
}

// finishRows is finish that also returns the number of rows written.
func (w *writer) finishRows() ([]byte, int64, error) {
	w.flush()
	var rows int64
	buf := bytes.NewBuffer(getOut())
	size := 1024
	for i, r := range w.recs {
		if r == nil {
			r = (&tableBuilder{groupOff: []int32{0}, hdOff: []int32{0}, hcOff: []int32{0}, dsOff: []int32{0}, dsvOff: []int32{0}}).record(w.schema)
			w.recs[i] = r
		}
		rows += r.NumRows()
		for _, c := range r.Columns() {
			for _, b := range c.Data().Buffers() {
				if b != nil {
					size += b.Len() + 8
				}
			}
			for _, ch := range c.Data().Children() {
				for _, b := range ch.Buffers() {
					if b != nil {
						size += b.Len() + 8
					}
				}
			}
		}
	}
	if Codec != "" {
		size /= 3 // what LZ4 leaves of an aggregate, about
	}
	buf.Grow(size)
	opts := []ipc.Option{ipc.WithSchema(w.schema), ipc.WithAllocator(ipcAlloc)}
	switch Codec {
	case "lz4":
		opts = append(opts, ipc.WithLZ4())
	case "zstd":
		opts = append(opts, ipc.WithZstd())
	}
	iw := ipc.NewWriter(buf, opts...)
	for _, r := range w.recs {
		if err := iw.Write(r); err != nil {
			return nil, 0, fmt.Errorf("encode aggregate: %w", err)
		}
		r.Release()
	}
	if err := iw.Close(); err != nil {
		return nil, 0, fmt.Errorf("encode aggregate: %w", err)
	}
	// The records' buffers were copied (or compressed) into buf.
	w.recycle()
	return buf.Bytes(), rows, nil
}

// tableBuilder accumulates one view's rows in plain slices, turned into
// Arrow arrays (no validity bitmaps: nothing is null) by record.
type tableBuilder struct {
	vi                  int
	groupOff            []int32
	groupData           []byte
	hour, count, sum    []int64
	delayed             []int64
	min, max            []int32
	hdOff, hcOff, dsOff []int32
	hdv                 []int32
	hcv                 []int64
	dsvOff              []int32
	dsvData             []byte
}

// row appends a row's group, hour and stats; its lists must follow.
func (t *tableBuilder) row(group string, hour int64, s flight.Stats) {
	t.groupData = append(t.groupData, group...)
	t.groupOff = append(t.groupOff, int32(len(t.groupData)))
	t.hour = append(t.hour, hour)
	t.count = append(t.count, s.Count)
	t.sum = append(t.sum, s.Sum)
	t.delayed = append(t.delayed, s.Delayed)
	t.min = append(t.min, s.Min)
	t.max = append(t.max, s.Max)
}

// endLists closes the row's lists (after their values were appended).
func (t *tableBuilder) endLists() {
	t.hdOff = append(t.hdOff, int32(len(t.hdv)))
	t.hcOff = append(t.hcOff, int32(len(t.hcv)))
	t.dsOff = append(t.dsOff, int32(len(t.dsvOff)-1))
}

func (t *tableBuilder) dest(d string) {
	t.dsvData = append(t.dsvData, d...)
	t.dsvOff = append(t.dsvOff, int32(len(t.dsvData)))
}

// append adds a row; hist is left empty by the caller when count <= 2.
func (t *tableBuilder) append(group string, hour int64, s flight.Stats, hd []int32, hc []int64, ds []string) {
	t.row(group, hour, s)
	if s.Count > 2 {
		t.hdv = append(t.hdv, hd...)
		t.hcv = append(t.hcv, hc...)
	}
	for _, d := range ds {
		t.dest(d)
	}
	t.endLists()
}

func bufOf[T int32 | int64 | byte](v []T) *memory.Buffer {
	if len(v) == 0 {
		return memory.NewBufferBytes(nil)
	}
	return memory.NewBufferBytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0]))))
}

func (t *tableBuilder) record(schema *arrow.Schema) arrow.RecordBatch {
	n := len(t.groupOff) - 1
	prim := func(typ arrow.DataType, b *memory.Buffer, length int) arrow.ArrayData {
		return array.NewData(typ, length, []*memory.Buffer{nil, b}, nil, 0, 0)
	}
	str := func(off []int32, data []byte) arrow.ArrayData {
		return array.NewData(arrow.BinaryTypes.String, len(off)-1, []*memory.Buffer{nil, bufOf(off), bufOf(data)}, nil, 0, 0)
	}
	list := func(typ arrow.DataType, off []int32, child arrow.ArrayData) arrow.ArrayData {
		return array.NewData(typ, len(off)-1, []*memory.Buffer{nil, bufOf(off)}, []arrow.ArrayData{child}, 0, 0)
	}
	datas := []arrow.ArrayData{
		str(t.groupOff, t.groupData),
		prim(arrow.PrimitiveTypes.Int64, bufOf(t.hour), n),
		prim(arrow.PrimitiveTypes.Int64, bufOf(t.count), n),
		prim(arrow.PrimitiveTypes.Int64, bufOf(t.sum), n),
		prim(arrow.PrimitiveTypes.Int64, bufOf(t.delayed), n),
		prim(arrow.PrimitiveTypes.Int32, bufOf(t.min), n),
		prim(arrow.PrimitiveTypes.Int32, bufOf(t.max), n),
		list(fields[7].Type, t.hdOff, prim(arrow.PrimitiveTypes.Int32, bufOf(t.hdv), len(t.hdv))),
		list(fields[8].Type, t.hcOff, prim(arrow.PrimitiveTypes.Int64, bufOf(t.hcv), len(t.hcv))),
		list(fields[9].Type, t.dsOff, str(t.dsvOff, t.dsvData)),
	}
	cols := make([]arrow.Array, len(datas))
	for i, d := range datas {
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	rec := array.NewRecordBatch(schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// Aggregate is a decoded aggregate: one table per view.
type Aggregate struct {
	// Views are the view names, in order; Tables[i] belongs to Views[i].
	Views  []string
	Tables []*Table
}

// Table returns the table of a view, nil if the aggregate has none.
func (a *Aggregate) Table(view string) *Table {
	for i, v := range a.Views {
		if v == view {
			return a.Tables[i]
		}
	}
	return nil
}

// FirstHour is the first hour of any row of the aggregate (Unix seconds),
// 0 if it has none.
func (a *Aggregate) FirstHour() int64 {
	var first int64
	for _, t := range a.Tables {
		if t.Len() > 0 {
			if h := slices.Min(t.hour); first == 0 || h < first {
				first = h
			}
		}
	}
	return first
}

// Rows is the number of buckets over every view.
func (a *Aggregate) Rows() int64 {
	var n int64
	for _, t := range a.Tables {
		n += int64(t.Len())
	}
	return n
}

// ErrFormat is wrapped by the errors of Decode.
var ErrFormat = errors.New("not an aggregate")

// Decode reads an encoded aggregate. The tables point into data's buffers
// (or their decompressed copies).
func Decode(data []byte) (*Aggregate, error) { return DecodeViews(data, nil) }

// DecodeViews is Decode of the views named in views only (every view when
// nil): the record batches of the others are skipped undecompressed, so a
// reader of one view pays for its own buffers only (route_hour is two
// thirds of a node's bytes, airport_hour one third). The aggregate lists
// the decoded views, in the encoded order; a name the aggregate lacks is
// not an error (Table returns nil for it).
func DecodeViews(data []byte, views []string) (*Aggregate, error) {
	f := &batchFilter{MessageReader: ipc.NewMessageReader(bytes.NewReader(data), ipc.WithAllocator(memory.NewGoAllocator()))}
	r, err := ipc.NewReaderFromMessageReader(f, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil { // the reader released f
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	defer r.Release()
	md := r.Schema().Metadata()
	i := md.FindKey(ViewsMetadataKey)
	if i < 0 || r.Schema().NumFields() != len(fields) {
		return nil, fmt.Errorf("%w: no %s metadata or wrong columns", ErrFormat, ViewsMetadataKey)
	}
	for j, f := range r.Schema().Fields() {
		if f.Name != fields[j].Name {
			return nil, fmt.Errorf("%w: column %d is %q, want %q", ErrFormat, j, f.Name, fields[j].Name)
		}
	}
	all := strings.Split(md.Values()[i], ",")
	a := &Aggregate{}
	f.keep = make([]bool, len(all))
	for j, v := range all {
		if f.keep[j] = views == nil || slices.Contains(views, v); f.keep[j] {
			a.Views = append(a.Views, v)
		}
	}
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		t, err := newTable(rec)
		if err != nil {
			return nil, err
		}
		a.Tables = append(a.Tables, t)
	}
	if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if f.batches != len(all) || len(a.Tables) != len(a.Views) {
		return nil, fmt.Errorf("%w: %d tables for %d views", ErrFormat, f.batches, len(all))
	}
	return a, nil
}

// batchFilter passes on the messages of an IPC stream but the record
// batches whose keep entry is false; it counts the record batches.
type batchFilter struct {
	ipc.MessageReader
	// keep is indexed by record batch; nil (while the schema is read) or
	// too short keeps them.
	keep    []bool
	batches int
}

func (f *batchFilter) Message() (*ipc.Message, error) {
	for {
		m, err := f.MessageReader.Message()
		if err != nil || m.Type() != ipc.MessageRecordBatch {
			return m, err
		}
		i := f.batches
		f.batches++
		if i >= len(f.keep) || f.keep[i] {
			return m, nil
		}
	}
}

// Table is one view's buckets, sorted by (group, hour).
type Table struct {
	rec              arrow.RecordBatch
	group            *array.String
	hour             []int64
	count, sum, dlyd []int64
	min, max         []int32
	hd, hc, ds       *array.List
	hdv              []int32
	hcv              []int64
	dsv              *array.String
}

func newTable(rec arrow.RecordBatch) (*Table, error) {
	t := &Table{rec: rec}
	var ok [10]bool
	t.group, ok[0] = rec.Column(0).(*array.String)
	var hour, count, sum, dlyd *array.Int64
	var mn, mx *array.Int32
	hour, ok[1] = rec.Column(1).(*array.Int64)
	count, ok[2] = rec.Column(2).(*array.Int64)
	sum, ok[3] = rec.Column(3).(*array.Int64)
	dlyd, ok[4] = rec.Column(4).(*array.Int64)
	mn, ok[5] = rec.Column(5).(*array.Int32)
	mx, ok[6] = rec.Column(6).(*array.Int32)
	t.hd, ok[7] = rec.Column(7).(*array.List)
	t.hc, ok[8] = rec.Column(8).(*array.List)
	t.ds, ok[9] = rec.Column(9).(*array.List)
	for i, o := range ok {
		if !o {
			return nil, fmt.Errorf("%w: column %d has type %s", ErrFormat, i, rec.Column(i).DataType())
		}
	}
	hdv, ok1 := t.hd.ListValues().(*array.Int32)
	hcv, ok2 := t.hc.ListValues().(*array.Int64)
	dsv, ok3 := t.ds.ListValues().(*array.String)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("%w: list values have the wrong types", ErrFormat)
	}
	t.hour, t.count, t.sum, t.dlyd = hour.Int64Values(), count.Int64Values(), sum.Int64Values(), dlyd.Int64Values()
	t.min, t.max = mn.Int32Values(), mx.Int32Values()
	t.hdv, t.hcv, t.dsv = hdv.Int32Values(), hcv.Int64Values(), dsv
	return t, nil
}

// Len is the number of buckets.
func (t *Table) Len() int { return int(t.rec.NumRows()) }

// Group is row i's group; the string points into the table's buffer.
func (t *Table) Group(i int) string { return t.group.Value(i) }

// Hour is row i's hour (Unix seconds).
func (t *Table) Hour(i int) int64 { return t.hour[i] }

// Stats are row i's statistics.
func (t *Table) Stats(i int) flight.Stats {
	return flight.Stats{Count: t.count[i], Sum: t.sum[i], Delayed: t.dlyd[i], Min: t.min[i], Max: t.max[i]}
}

// Hist calls fn for every (delay, count) of row i's histogram, in increasing
// delay order, expanding the histogram implied by min and max when count <= 2.
func (t *Table) Hist(i int, fn func(delay int32, n int64)) {
	lo, hi := t.hd.ValueOffsets(i)
	if hi > lo {
		clo, _ := t.hc.ValueOffsets(i)
		for j := lo; j < hi; j++ {
			fn(t.hdv[j], t.hcv[clo+j-lo])
		}
		return
	}
	switch n, mn, mx := t.count[i], t.min[i], t.max[i]; {
	case n == 1:
		fn(mn, 1)
	case n == 2 && mn == mx:
		fn(mn, 2)
	case n == 2:
		fn(mn, 1)
		fn(mx, 1)
	}
}

// AddHist adds row i's histogram into h.
func (t *Table) AddHist(i int, h *flight.Histogram) { t.Hist(i, h.AddN) }

// NumDests is the number of row i's distinct destinations.
func (t *Table) NumDests(i int) int {
	lo, hi := t.ds.ValueOffsets(i)
	return int(hi - lo)
}

// Dest is row i's j-th destination (sorted).
func (t *Table) Dest(i, j int) string {
	lo, _ := t.ds.ValueOffsets(i)
	return t.dsv.Value(int(lo) + j)
}

// discard releases what the writer holds.
func (w *writer) discard() {
	w.flush()
	for i, r := range w.recs {
		if r != nil {
			r.Release()
			w.recs[i] = nil
		}
	}
}
