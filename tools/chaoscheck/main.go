package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/speed/store"
)

type bucket struct {
	origin string
	hour   int64
}

type result struct {
	Rows           int64    `json:"rows"`
	Expected       int64    `json:"expected_events"`
	Counted        int64    `json:"counted_events"`
	Lost           int64    `json:"lost"`
	DoubleCounted  int64    `json:"double_counted"`
	Buckets        int      `json:"buckets"`
	WrongBuckets   int      `json:"wrong_buckets"`
	Examples       []string `json:"examples,omitempty"`
	SettledSeconds float64  `json:"settled_seconds"`
	// Coverage is the check of -coverage; Exact includes it.
	Coverage *coverage `json:"coverage,omitempty"`
	Exact    bool      `json:"exact"`
}

func main() {
	dataPath := flag.String("data", "data/flights-3m.parquet", "the flights data set")
	rows := flag.Int64("rows", 0, "the first N rows were replayed (0: all)")
	redisURL := flag.String("redis-url", os.Getenv("TRIBUTARY_REDIS_URL"), "Redis: plain URL or Sentinel failover URL (master_name=...)")
	prefix := flag.String("prefix", "tributary", "the pipeline's key prefix")
	partitions := flag.Int("partitions", topology.DefaultPartitions, "the pipeline's stream partitions (--partitions)")
	wait := flag.Duration("wait", 3*time.Minute, "how long to wait for the views to reach the expected total")
	settle := flag.Duration("settle", 30*time.Second, "give up waiting once the total has not moved for this long")
	cover := flag.Bool("coverage", false, "also check, after a batch run, the TTLs the speed layer's coverage duty gives (waiting up to -wait for its progress)")
	flag.Parse()
	if err := run(*dataPath, *rows, *redisURL, *prefix, *partitions, *wait, *settle, *cover); err != nil {
		fmt.Fprintln(os.Stderr, "chaoscheck:", err)
		os.Exit(2)
	}
}

func run(dataPath string, rows int64, redisURL, prefix string, partitions int, wait, settle time.Duration, cover bool) error {
	want, n, err := expected(dataPath, rows)
	if err != nil {
		return err
	}
	rdb, err := connect(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ctx := context.Background()
	var total int64
	for _, c := range want {
		total += c
	}
	start := time.Now()
	var got map[bucket]int64
	lastTotal, lastMove := int64(-1), time.Now()
	for {
		got, err = counted(ctx, rdb, prefix, partitions, want)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaoscheck: read views (retrying):", err)
			time.Sleep(time.Second)
			continue
		}
		var sum int64
		for _, c := range got {
			sum += c
		}
		if sum != lastTotal {
			lastTotal, lastMove = sum, time.Now()
		}
		if sum == total || time.Since(start) > wait || time.Since(lastMove) > settle {
			break
		}
		time.Sleep(time.Second)
	}
	res := result{Rows: n, Expected: total, Buckets: len(want), SettledSeconds: time.Since(start).Seconds()}
	for b, w := range want {
		g := got[b]
		res.Counted += g
		if g != w {
			res.WrongBuckets++
			if len(res.Examples) < 10 {
				res.Examples = append(res.Examples, fmt.Sprintf("%s %s: %d counted, %d flights", b.origin,
					time.Unix(b.hour, 0).UTC().Format("2006-01-02T15"), g, w))
			}
		}
		if g < w {
			res.Lost += w - g
		} else {
			res.DoubleCounted += g - w
		}
	}
	res.Exact = res.Lost == 0 && res.DoubleCounted == 0
	if cover {
		if res.Coverage, err = checkCoverage(ctx, rdb, prefix, partitions, wait); err != nil {
			return err
		}
		res.Exact = res.Exact && res.Coverage.Exact
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	if !res.Exact {
		os.Exit(1)
	}
	return nil
}

// expected counts the flights per origin and hour in the first rows of the file.
func expected(path string, rows int64) (map[bucket]int64, int64, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, 0, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 65536}, memory.NewGoAllocator())
	if err != nil {
		return nil, 0, err
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, 0, err
	}
	defer tbl.Release()
	col := func(name string) (int, error) {
		idx := tbl.Schema().FieldIndices(name)
		if len(idx) != 1 {
			return 0, fmt.Errorf("data set has no column %q", name)
		}
		return idx[0], nil
	}
	di, err := col("date")
	if err != nil {
		return nil, 0, err
	}
	oi, err := col("origin")
	if err != nil {
		return nil, 0, err
	}
	unit := tbl.Schema().Field(di).Type.(*arrow.TimestampType).Unit
	perSecond := map[arrow.TimeUnit]int64{arrow.Second: 1, arrow.Millisecond: 1e3, arrow.Microsecond: 1e6, arrow.Nanosecond: 1e9}[unit]
	tr := array.NewTableReader(tbl, 65536)
	defer tr.Release()
	out := map[bucket]int64{}
	var n int64
	for tr.Next() && (rows <= 0 || n < rows) {
		rec := tr.RecordBatch()
		dates := rec.Column(di).(*array.Timestamp)
		origins := rec.Column(oi)
		for i := 0; i < int(rec.NumRows()) && (rows <= 0 || n < rows); i++ {
			n++
			if dates.IsNull(i) || origins.IsNull(i) {
				continue
			}
			var origin string
			switch o := origins.(type) {
			case *array.String:
				origin = o.Value(i)
			case *array.LargeString:
				origin = o.Value(i)
			default:
				return nil, 0, fmt.Errorf("origin column of type %s", origins.DataType())
			}
			sec := int64(dates.Value(i)) / perSecond
			out[bucket{strings.Clone(origin), sec - sec%3600}]++
		}
	}
	return out, n, nil
}

// counted reads the count of every expected bucket from the speed views.
func counted(ctx context.Context, rdb redis.UniversalClient, prefix string, partitions int, want map[bucket]int64) (map[bucket]int64, error) {
	keys := make([]bucket, 0, len(want))
	for b := range want {
		keys = append(keys, b)
	}
	out := make(map[bucket]int64, len(want))
	r := store.NewReader(rdb, prefix, partitions)
	for lo := 0; lo < len(keys); lo += 5000 {
		hi := min(lo+5000, len(keys))
		refs := make([]store.Ref, hi-lo)
		for i, b := range keys[lo:hi] {
			refs[i] = store.Ref{View: "airport_hour", Group: b.origin, Hour: b.hour}
		}
		bs, err := r.Buckets(ctx, refs)
		if err != nil {
			return nil, err
		}
		for i, sb := range bs {
			if sb.Count > 0 {
				out[keys[lo+i]] = sb.Count
			}
		}
	}
	return out, nil
}

func connect(raw string) (redis.UniversalClient, error) {
	if strings.Contains(raw, "master_name=") {
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, err
		}
		if o.Password == "" {
			o.Password = o.SentinelPassword
		}
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(o), nil
}
