package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/batch/segstore"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/speed/feed"
	tworkers "github.com/tributary-dev/tributary/workers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/batch:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		bin     = flag.String("bin", "bin/tributary", "the tributary binary (its workers run the tasks)")
		data    = flag.String("data", "data/flights-3m.parquet", "the data set")
		runs    = flag.Int("runs", 3, "runs of each measurement (medians reported)")
		segEv   = flag.Int("segment-events", 100_000, "archive segment size")
		python  = flag.String("python", "/usr/bin/python3", "Debian's python3 with pandas and dask")
		script  = flag.String("script", "bench/batch_stats.py", "the pandas/Dask script")
		noPy    = flag.Bool("no-python", false, "skip pandas and Dask")
		workers = flag.Int("workers", 2, "worker processes (1 task at a time each)")
		inProc  = flag.Bool("in-process", false, "run the workers in this process (for profiling; the reported figures use processes)")
		cpuProf = flag.String("cpuprofile", "", "write a CPU profile of the full recomputes to this file")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	opt, err := redis.ParseURL(os.Getenv("TRIBUTARY_REDIS_URL"))
	if err != nil {
		return fmt.Errorf("TRIBUTARY_REDIS_URL: %w", err)
	}
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	conn, err := amqp.Dial(os.Getenv("TRIBUTARY_AMQP_URL"))
	if err != nil {
		return err
	}
	defer conn.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "bench-batch-" + hex.EncodeToString(b)
	streams := topology.Streams{Prefix: prefix, Partitions: topology.DefaultPartitions}
	dir, err := os.MkdirTemp("", "tributary-bench-segments-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer cleanup(rdb, conn, streams, prefix)

	// Archive the 3,000,000 flights (not timed as part of the recompute).
	t0 := time.Now()
	if _, err := feed.Publish(ctx, conn, streams, feed.Options{DataPath: *data, From: 0, To: -1, Batch: 1000, Producer: "replay"}); err != nil {
		return err
	}
	st, err := segstore.Open(ctx, dir)
	if err != nil {
		return err
	}
	actx, stopArchive := context.WithCancel(ctx)
	archived := make(chan error, 1)
	go func() {
		archived <- archive.Run(actx, archive.Config{Redis: rdb, AMQPURL: os.Getenv("TRIBUTARY_AMQP_URL"), Streams: streams, KeyPrefix: prefix,
			Store: st, StoreURL: dir, SegmentEvents: *segEv, SegmentInterval: time.Second, Log: log})
	}()
	defer func() { stopArchive(); <-archived }()
	total := int64(3_000_000)
	if err := waitArchived(ctx, rdb, prefix, total); err != nil {
		return err
	}
	ast, _ := archive.ReadState(ctx, rdb, prefix)
	nseg := 0
	for _, p := range ast.Partitions {
		nseg += len(p.Names)
	}
	fmt.Fprintf(os.Stderr, "archived %d flights into %d segments in %v (replay + archive, not timed below)\n", total, nseg, time.Since(t0).Round(time.Millisecond))

	// Two worker processes and a scheduler.
	for i := range *workers {
		if *inProc {
			reg, err := tworkers.NewRegistry(recompute.Register(rdb, log))
			if err != nil {
				return err
			}
			w, err := tworkers.New(tworkers.Config{Redis: rdb, KeyPrefix: prefix, Concurrency: 1, TaskCheckInterval: 20 * time.Millisecond,
				ID: fmt.Sprintf("%s-w%d", prefix, i), Log: log}, reg)
			if err != nil {
				return err
			}
			wctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = w.Run(wctx); close(done) }()
			defer func() { stop(); <-done }()
			continue
		}
		cmd := exec.Command(*bin, "worker", "--key-prefix", prefix, "--concurrency", "1", "--metrics-addr", "", "--log-level", "warn",
			"--id", fmt.Sprintf("%s-w%d", prefix, i))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	}
	sch, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: log})
	if err != nil {
		return err
	}
	sctx, stopSch := context.WithCancel(ctx)
	defer stopSch()
	go func() { _ = sch.Run(sctx) }()
	for {
		fns, err := sch.Functions(ctx)
		if err == nil && fns[recompute.FuncPartial] == *workers {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	opts := recompute.Options{KeyPrefix: prefix, Grace: time.Minute}

	// Full recomputes: every partial and node computed afresh.
	var full, load, query []float64
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
	}
	for range *runs {
		rdb.Incr(ctx, batchkeys.New(prefix).Epoch())
		delKeys(ctx, rdb, prefix+":result:partial:*")
		start := time.Now()
		plan, _, err := recompute.Run(ctx, sch, rdb, opts, nil)
		if err != nil {
			return err
		}
		full = append(full, time.Since(start).Seconds())
		start = time.Now()
		v, err := view.Load(ctx, rdb, prefix)
		if err != nil {
			return err
		}
		load = append(load, time.Since(start).Seconds())
		start = time.Now()
		gs, _ := v.Groups("airport_hour")
		var n int64
		for _, g := range gs {
			a, _ := v.Range("airport_hour", g, 0, v.Boundary)
			a.Quantiles()
			n += a.Count
		}
		query = append(query, time.Since(start).Seconds())
		fmt.Fprintf(os.Stderr, "full recompute v%d: %d segments, %d tasks, %.3f s; view load %.3f s; per-airport stats of %d airports (%d flights before the boundary) %.3f s\n",
			plan.Version, plan.Segments, plan.Partials+plan.Merges+2, full[len(full)-1], load[len(load)-1], len(gs), n, query[len(query)-1])
	}

	if *cpuProf != "" {
		pprof.StopCPUProfile()
	}

	// Incremental recomputes, each after 1% more data (rows published again
	// under another producer: new events, new segments).
	var incr []float64
	for i := range *runs {
		if _, err := feed.Publish(ctx, conn, streams, feed.Options{DataPath: *data, From: 0, To: total / 100, Batch: 1000, Producer: "extra-" + strconv.Itoa(i)}); err != nil {
			return err
		}
		if err := waitArchived(ctx, rdb, prefix, total+int64(i+1)*total/100); err != nil {
			return err
		}
		start := time.Now()
		plan, status, err := recompute.Run(ctx, sch, rdb, opts, nil)
		if err != nil {
			return err
		}
		incr = append(incr, time.Since(start).Seconds())
		fmt.Fprintf(os.Stderr, "incremental recompute v%d: %d segments, %d tasks (%d memoized), %.3f s\n", plan.Version, plan.Segments, status.Total, status.Memoized, incr[len(incr)-1])
	}

	res := map[string]any{"full_s": median(full), "view_load_s": median(load), "airport_query_s": median(query), "incremental_s": median(incr),
		"segments": nseg, "full_runs": full, "incremental_runs": incr}
	if !*noPy {
		csv := filepath.Join(os.TempDir(), prefix+".csv")
		if err := writeCSV(ctx, *data, csv); err != nil {
			return err
		}
		defer os.Remove(csv)
		for _, tool := range []string{"pandas", "dask", "dask-default"} {
			var ld, cp []float64
			for range *runs {
				cmd := exec.Command(*python, *script, tool, csv)
				cmd.Env = withoutEnv(os.Environ(), "MALLOC_TRIM_THRESHOLD_")
				cmd.Stderr = nil
				out, err := cmd.Output()
				if err != nil {
					return fmt.Errorf("%s: %w", tool, err)
				}
				var r struct {
					Load    float64 `json:"load_s"`
					Compute float64 `json:"compute_s"`
					Flights int64   `json:"flights"`
				}
				if err := json.Unmarshal(lastLine(out), &r); err != nil {
					return fmt.Errorf("%s output %q: %w", tool, out, err)
				}
				ld, cp = append(ld, r.Load), append(cp, r.Compute)
				fmt.Fprintf(os.Stderr, "%s: load %.3f s, compute %.3f s (%d flights)\n", tool, r.Load, r.Compute, r.Flights)
			}
			res[tool] = map[string]float64{"load_s": median(ld), "compute_s": median(cp)}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func waitArchived(ctx context.Context, rdb redis.UniversalClient, prefix string, n int64) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if st, err := archive.ReadState(ctx, rdb, prefix); err == nil {
			var total int64
			for _, p := range st.Partitions {
				total += p.Events
			}
			if total >= n {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the archive did not reach %d events", n)
}

func writeCSV(ctx context.Context, data, path string) error {
	f, err := dataset.Open(data)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintln(w, "origin,destination,delay")
	err = f.Scan(ctx, 0, -1, func(b *dataset.Batch) error {
		for _, e := range b.Events {
			w.WriteString(e.Origin)
			w.WriteByte(',')
			w.WriteString(e.Destination)
			w.WriteByte(',')
			w.WriteString(strconv.Itoa(int(e.Delay)))
			w.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func lastLine(b []byte) []byte {
	lines := slices.DeleteFunc(splitLines(b), func(l []byte) bool { return len(l) == 0 })
	if len(lines) == 0 {
		return nil
	}
	return lines[len(lines)-1]
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return append(out, b[start:])
}

func withoutEnv(env []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return len(kv) > len(name) && kv[:len(name)+1] == name+"=" })
}

func delKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) {
	it := rdb.Scan(ctx, 0, pattern, 5000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	for i := 0; i < len(keys); i += 1000 {
		rdb.Unlink(ctx, keys[i:min(i+1000, len(keys))]...)
	}
}

func cleanup(rdb redis.UniversalClient, conn *amqp.Connection, streams topology.Streams, prefix string) {
	ctx := context.Background()
	if ch, err := conn.Channel(); err == nil {
		_ = streams.Delete(ch)
		ch.Close()
	}
	ins := asynq.NewInspectorFromRedisClient(rdb)
	for _, q := range append(taskq.DefaultQueues(prefix).All(), prefix+".control") {
		_ = ins.DeleteQueue(q, true)
		rdb.SRem(ctx, taskq.AllQueuesKey, q)
	}
	delKeys(ctx, rdb, prefix+":*")
}
