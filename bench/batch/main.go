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
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/segstore"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/speed/store"
	tworkers "github.com/tributary-dev/tributary/workers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/batch:", err)
		os.Exit(1)
	}
}

// options are the benchmark's flags.
type options struct {
	bin, data, python, script, cpuProf string
	runs, segEv, workers               int
	noPy, inProc                       bool
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/tributary", "the tributary binary (its workers run the tasks)")
	flag.StringVar(&o.data, "data", "data/flights-3m.parquet", "the data set")
	flag.IntVar(&o.runs, "runs", 3, "runs of each measurement (medians reported)")
	flag.IntVar(&o.segEv, "segment-events", 100_000, "archive segment size")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "Debian's python3 with pandas and dask")
	flag.StringVar(&o.script, "script", "bench/batch_stats.py", "the pandas/Dask script")
	flag.BoolVar(&o.noPy, "no-python", false, "skip pandas and Dask")
	flag.IntVar(&o.workers, "workers", 2, "worker processes (1 task at a time each)")
	flag.BoolVar(&o.inProc, "in-process", false, "run the workers in this process (for profiling; the reported figures use processes)")
	flag.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the full recomputes to this file")
	flag.Parse()
	return o
}

// bench is one run of the benchmark: its connections and names.
type bench struct {
	o       options
	log     *slog.Logger
	rdb     *redis.Client
	conn    *amqp.Connection
	prefix  string
	streams topology.Streams
}

const total = int64(3_000_000)

func run() error {
	o := parseFlags()
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
	e := &bench{o: o, rdb: rdb, conn: conn, prefix: prefix,
		log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		streams: topology.Streams{Prefix: prefix, Partitions: topology.DefaultPartitions}}
	dir, err := os.MkdirTemp("", "tributary-bench-segments-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer cleanup(rdb, conn, e.streams, prefix)

	nseg, stopArchive, err := e.archiveAll(ctx, dir)
	defer stopArchive()
	if err != nil {
		return err
	}
	stopWorkers, err := e.startWorkers(ctx)
	defer stopWorkers()
	if err != nil {
		return err
	}
	sch, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: e.log})
	if err != nil {
		return err
	}
	sctx, stopSch := context.WithCancel(ctx)
	defer stopSch()
	go func() { _ = sch.Run(sctx) }()
	for {
		fns, err := sch.Functions(ctx)
		if err == nil && fns[recompute.FuncPartial] == o.workers {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	opts := recompute.Options{KeyPrefix: prefix, Grace: time.Minute}
	full, load, query, err := e.fullRecomputes(ctx, sch, opts)
	if err != nil {
		return err
	}
	incr, err := e.incrementalRecomputes(ctx, sch, opts)
	if err != nil {
		return err
	}
	res := map[string]any{"full_s": median(full), "view_load_s": median(load), "airport_query_s": median(query), "incremental_s": median(incr),
		"segments": nseg, "full_runs": full, "incremental_runs": incr}
	if !o.noPy {
		if err := e.python(ctx, res); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// archiveAll publishes the 3,000,000 flights and archives them into dir
// (not timed as part of the recompute); stop ends the archiver, which keeps
// running for the incremental recomputes.
func (e *bench) archiveAll(ctx context.Context, dir string) (nseg int, stop func(), err error) {
	stop = func() {}
	t0 := time.Now()
	if _, err := feed.Publish(ctx, e.conn, e.streams, feed.Options{DataPath: e.o.data, From: 0, To: -1, Batch: 1000, Producer: "replay"}); err != nil {
		return 0, stop, err
	}
	st, err := segstore.Open(ctx, dir)
	if err != nil {
		return 0, stop, err
	}
	actx, stopArchive := context.WithCancel(ctx)
	archived := make(chan error, 1)
	go func() {
		archived <- archive.Run(actx, archive.Config{Redis: e.rdb, AMQPURL: os.Getenv("TRIBUTARY_AMQP_URL"), Streams: e.streams, KeyPrefix: e.prefix,
			Store: st, StoreURL: dir, SegmentEvents: e.o.segEv, SegmentInterval: time.Second, Log: e.log})
	}()
	stop = func() { stopArchive(); <-archived }
	if err := waitArchived(ctx, e.rdb, e.prefix, total); err != nil {
		return 0, stop, err
	}
	ast, _ := archive.ReadState(ctx, e.rdb, e.prefix)
	for _, p := range ast.Partitions {
		nseg += len(p.Names)
	}
	fmt.Fprintf(os.Stderr, "archived %d flights into %d segments in %v (replay + archive, not timed below)\n", total, nseg, time.Since(t0).Round(time.Millisecond))
	return nseg, stop, nil
}

// startWorkers starts the batch workers, processes or (-in-process) in this
// process; stop stops those started.
func (e *bench) startWorkers(ctx context.Context) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	for i := range e.o.workers {
		id := fmt.Sprintf("%s-w%d", e.prefix, i)
		if e.o.inProc {
			reg, err := tworkers.NewRegistry(recompute.Register(e.rdb, e.log, func(prefix string) reconcile.SpeedReader {
				return store.NewReader(e.rdb, prefix, e.streams.Partitions)
			}))
			if err != nil {
				return stop, err
			}
			w, err := tworkers.New(tworkers.Config{Redis: e.rdb, KeyPrefix: e.prefix, Concurrency: 1, TaskCheckInterval: 20 * time.Millisecond,
				ID: id, Log: e.log}, reg)
			if err != nil {
				return stop, err
			}
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = w.Run(wctx); close(done) }()
			stops = append(stops, func() { cancel(); <-done })
			continue
		}
		cmd := exec.Command(e.o.bin, "worker", "--key-prefix", e.prefix, "--concurrency", "1", "--metrics-addr", "", "--log-level", "warn",
			"--id", id)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return stop, err
		}
		stops = append(stops, func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	}
	return stop, nil
}

// fullRecomputes times full recomputes (every partial and node computed
// afresh), the view's load and a per-airport query over it.
func (e *bench) fullRecomputes(ctx context.Context, sch *scheduler.Scheduler, opts recompute.Options) (full, load, query []float64, err error) {
	if e.o.cpuProf != "" {
		f, err := os.Create(e.o.cpuProf)
		if err != nil {
			return nil, nil, nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, nil, nil, err
		}
		defer pprof.StopCPUProfile()
	}
	for range e.o.runs {
		e.rdb.Incr(ctx, batchkeys.New(e.prefix).Epoch())
		delKeys(ctx, e.rdb, e.prefix+":{"+e.prefix+"}:result:partial:*")
		start := time.Now()
		plan, _, err := recompute.Run(ctx, sch, e.rdb, opts, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		full = append(full, time.Since(start).Seconds())
		start = time.Now()
		v, err := view.Load(ctx, e.rdb, e.prefix)
		if err != nil {
			return nil, nil, nil, err
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
			plan.Version, plan.Segments, plan.Tasks(), full[len(full)-1], load[len(load)-1], len(gs), n, query[len(query)-1])
	}
	return full, load, query, nil
}

// incrementalRecomputes times recomputes each after 1% more data (rows
// published again under another producer: new events, new segments).
func (e *bench) incrementalRecomputes(ctx context.Context, sch *scheduler.Scheduler, opts recompute.Options) ([]float64, error) {
	var incr []float64
	for i := range e.o.runs {
		if _, err := feed.Publish(ctx, e.conn, e.streams, feed.Options{DataPath: e.o.data, From: 0, To: total / 100, Batch: 1000, Producer: "extra-" + strconv.Itoa(i)}); err != nil {
			return nil, err
		}
		if err := waitArchived(ctx, e.rdb, e.prefix, total+int64(i+1)*total/100); err != nil {
			return nil, err
		}
		start := time.Now()
		plan, status, err := recompute.Run(ctx, sch, e.rdb, opts, nil)
		if err != nil {
			return nil, err
		}
		incr = append(incr, time.Since(start).Seconds())
		fmt.Fprintf(os.Stderr, "incremental recompute v%d: %d segments, %d tasks (%d memoized), %.3f s\n", plan.Version, plan.Segments, status.Total, status.Memoized, incr[len(incr)-1])
	}
	return incr, nil
}

// python runs the pandas and Dask references on the same data, as CSV, and
// adds their medians to res.
func (e *bench) python(ctx context.Context, res map[string]any) error {
	csv := filepath.Join(os.TempDir(), e.prefix+".csv")
	if err := writeCSV(ctx, e.o.data, csv); err != nil {
		return err
	}
	defer os.Remove(csv)
	for _, tool := range []string{"pandas", "dask", "dask-default"} {
		var ld, cp []float64
		for range e.o.runs {
			cmd := exec.Command(e.o.python, e.o.script, tool, csv)
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
	return nil
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
