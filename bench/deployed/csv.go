package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// writeCSV writes time (µs since the epoch, as the data set stores it),
// origin, destination and delay of the first rows flights of the Parquet data
// set as CSV, the input of the pandas and Dask references. It reads the file
// with arrow-go directly (not Tributary's reader).
func writeCSV(ctx context.Context, data, path string, rows int64) error {
	pf, err := file.OpenParquetFile(data, false)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 65536}, memory.NewGoAllocator())
	if err != nil {
		return err
	}
	sc := pf.MetaData().Schema
	var cols []int
	for _, name := range []string{"date", "origin", "destination", "delay"} {
		i := sc.ColumnIndexByName(name)
		if i < 0 {
			return fmt.Errorf("%s has no column %q", data, name)
		}
		cols = append(cols, i)
	}
	rr, err := fr.GetRecordReader(ctx, cols, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintln(w, "time,origin,destination,delay")
	var n int64
	var num [20]byte
	for rr.Next() && (rows <= 0 || n < rows) {
		rec := rr.RecordBatch()
		ts, ok := rec.Column(0).(*array.Timestamp)
		if !ok || ts.DataType().(*arrow.TimestampType).Unit != arrow.Microsecond {
			return fmt.Errorf("%s: column date is %s, want a timestamp in µs", data, rec.Column(0).DataType())
		}
		o, d, dl := rec.Column(1), rec.Column(2), rec.Column(3)
		for i := 0; i < int(rec.NumRows()) && (rows <= 0 || n < rows); i++ {
			w.Write(strconv.AppendInt(num[:0], int64(ts.Value(i)), 10))
			w.WriteByte(',')
			w.WriteString(o.ValueStr(i))
			w.WriteByte(',')
			w.WriteString(d.ValueStr(i))
			w.WriteByte(',')
			w.WriteString(dl.ValueStr(i))
			w.WriteByte('\n')
			n++
		}
	}
	if err := rr.Err(); err != nil {
		return err
	}
	return w.Flush()
}
