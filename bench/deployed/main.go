package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// config is what a run measures; every field is in the JSON.
type config struct {
	Bin          string `json:"bin"`
	RawAsynq     string `json:"-"`
	RawConsume   string `json:"-"`
	Loadgen      string `json:"-"`
	Python       string `json:"python"`
	Data         string `json:"data"`
	Rows         int64  `json:"rows"`
	Quick        bool   `json:"quick"`
	Workers      int    `json:"batch_workers"`
	SpeedWorkers int    `json:"speed_workers"`
	Partitions   int    `json:"partitions"`
	Flush        string `json:"flush_interval"`
	Encoding     string `json:"encoding"`
	Tasks        int    `json:"tasks"`
	Leaves       int    `json:"leaves"`
	Runs         int    `json:"runs"`
	ServeSeconds int    `json:"serve_seconds"`
	OpenRate     int    `json:"open_rate"`
	AllData      int    `json:"all_data_requests"`
	Conns        int    `json:"conns"`
	PortBase     int    `json:"port_base"`
	Phases       string `json:"phases"`
	LatencyRows  int64  `json:"latency_rows"`
	LatencyRate  int    `json:"latency_rate"`
	EvalFeed     string `json:"-"`
	Out          string `json:"-"`
	Keep         bool   `json:"-"`
}

func main() {
	var c config
	flag.StringVar(&c.Bin, "bin", "bin/tributary", "the tributary binary")
	flag.StringVar(&c.RawAsynq, "rawasynq", "bin/bench-rawasynq", "bench/rawasynq binary")
	flag.StringVar(&c.RawConsume, "rawconsume", "bin/bench-rawconsume", "bench/rawconsume binary")
	flag.StringVar(&c.Loadgen, "loadgen", "bin/bench-loadgen", "bench/serve/loadgen binary")
	flag.StringVar(&c.Python, "python", "/usr/bin/python3", "Debian's python3 with pandas and Dask")
	flag.StringVar(&c.Data, "data", "data/flights-3m.parquet", "the flights data set")
	flag.Int64Var(&c.Rows, "rows", 3_000_000, "flights replayed (replay --limit)")
	flag.BoolVar(&c.Quick, "quick", false, "label the run as quick (smaller sizes, shorter loads)")
	flag.IntVar(&c.Workers, "workers", 2, "tributary worker processes (scheduler and batch), and raw asynq server processes")
	flag.IntVar(&c.SpeedWorkers, "speed-workers", 2, "tributary speed processes")
	flag.IntVar(&c.Partitions, "partitions", 8, "stream partitions (--partitions)")
	flag.StringVar(&c.Flush, "flush-interval", "", "speed --flush-interval (empty: the binary's default)")
	flag.StringVar(&c.Encoding, "encoding", "arrow", "replay --encoding: arrow or json")
	flag.IntVar(&c.Tasks, "tasks", 10000, "independent no-op tasks")
	flag.IntVar(&c.Leaves, "leaves", 1000, "leaves of the tree reduction (fan-in 8)")
	flag.IntVar(&c.Runs, "runs", 1, "runs of each scheduler measurement (medians reported)")
	flag.IntVar(&c.ServeSeconds, "serve-seconds", 15, "duration of each load of serve")
	flag.IntVar(&c.OpenRate, "open-rate", 2000, "open-loop request rate")
	flag.IntVar(&c.AllData, "all-data-requests", 50, "uncached requests of each query over all data, after the first")
	flag.IntVar(&c.Conns, "conns", 50, "closed-loop connections (and open-loop senders)")
	flag.IntVar(&c.PortBase, "port-base", 17300, "first of the 40 local ports used by the roles")
	flag.StringVar(&c.Phases, "phases", "scheduler,speed,batch,serve,latency", "phases to run (batch and serve need speed's replay, which always runs with them; latency runs on streams and keys of its own)")
	flag.Int64Var(&c.LatencyRows, "latency-rows", 100_000, "flights published at -latency-rate in the latency phase")
	flag.IntVar(&c.LatencyRate, "latency-rate", 5000, "events/s of the latency phase")
	flag.StringVar(&c.EvalFeed, "evalfeed", "bin/evalfeed", "tools/evalfeed binary (the latency phase's publisher)")
	flag.StringVar(&c.Out, "out", "bench/results", "directory of the JSON results")
	flag.BoolVar(&c.Keep, "keep", false, "keep the run's Redis keys, streams and segments")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	path, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// bench is one run's state.
type bench struct {
	c      config
	id     string
	dir    string
	ps     *procs
	rdb    *redis.Client
	res    map[string]any
	serve  string // base URL of tributary serve
	sched  string // base URL of the scheduler
	token  string // the scheduler's and serve's --admin-token, as in make demo
	envAdd []string
}

func (b *bench) port(i int) string { return "127.0.0.1:" + strconv.Itoa(b.c.PortBase+i) }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, c config) (string, error) {
	nonce := make([]byte, 3)
	_, _ = rand.Read(nonce)
	started := time.Now().UTC()
	id := "bench-" + started.Format("20060102t150405") + "-" + hex.EncodeToString(nonce)
	tok := make([]byte, 18)
	_, _ = rand.Read(tok)
	b := &bench{c: c, id: id, dir: filepath.Join(".run", "bench", id), res: map[string]any{}, token: hex.EncodeToString(tok)}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return "", err
	}
	ropt, err := redis.ParseURL(os.Getenv("TRIBUTARY_REDIS_URL"))
	if err != nil {
		return "", fmt.Errorf("TRIBUTARY_REDIS_URL (source .run/env): %w", err)
	}
	b.rdb = redis.NewClient(ropt)
	defer b.rdb.Close()
	store, _ := filepath.Abs(filepath.Join(b.dir, "segments"))
	b.envAdd = []string{"TRIBUTARY_KEY_PREFIX=" + id, "TRIBUTARY_STREAM_PREFIX=" + id + ".flights",
		"TRIBUTARY_PARTITIONS=" + strconv.Itoa(c.Partitions), "TRIBUTARY_STORE=" + store}
	b.ps = newProcs(b.dir, append(os.Environ(), b.envAdd...))
	b.serve, b.sched = "http://"+b.port(1), "http://"+b.port(0)
	b.res["schema"] = 1
	b.res["id"] = id
	b.res["started_at"] = started.Format(time.RFC3339)
	b.res["command"] = strings.Join(os.Args, " ")
	b.res["git"] = gitInfo()
	m := machine()
	m["load_before"] = loadavg()
	b.res["machine"] = m
	b.res["config"] = c
	b.logf("run %s, logs in %s, load average %v", id, b.dir, m["load_before"])
	defer b.cleanup()

	phases := map[string]bool{}
	for _, p := range strings.Split(c.Phases, ",") {
		phases[strings.TrimSpace(p)] = true
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
		on   bool
	}{
		{"roles", b.startCore, true},
		{"scheduler", b.scheduler, phases["scheduler"]},
		{"speed", b.speed, phases["speed"] || phases["batch"] || phases["serve"]},
		{"batch", b.batch, phases["batch"] || phases["serve"]},
		{"serve", b.serveLoad, phases["serve"]},
		{"latency", b.latency, phases["latency"]},
	}
	var failed error
	for _, s := range steps {
		if !s.on {
			continue
		}
		if err := s.fn(ctx); err != nil {
			failed = fmt.Errorf("%s: %w", s.name, err)
			b.res["error"] = failed.Error()
			break
		}
	}
	b.ps.stopAll()
	b.res["rss_mb"] = roundMap(b.ps.peak)
	m["load_after"] = loadavg()
	b.res["finished_at"] = time.Now().UTC().Format(time.RFC3339)
	path, err := b.write(started)
	if err != nil {
		return "", err
	}
	if failed != nil {
		return path, failed
	}
	return path, nil
}

func roundMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = round(v, 1)
	}
	return out
}

// write saves the results as <UTC timestamp>.json and latest.json (quick
// runs: <UTC timestamp>-quick.json and latest-quick.json).
func (b *bench) write(started time.Time) (string, error) {
	if err := os.MkdirAll(b.c.Out, 0o755); err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(b.res, "", "  ")
	if err != nil {
		return "", err
	}
	js = append(js, '\n')
	// A quick run never replaces latest.json, the last full-size run.
	name, latest := started.Format("20060102T150405Z"), "latest"
	if b.c.Quick {
		name, latest = name+"-quick", latest+"-quick"
	}
	path := filepath.Join(b.c.Out, name+".json")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(filepath.Join(b.c.Out, latest+".json"), js, 0o644)
}

// cleanup deletes the run's streams, Redis keys and segments.
func (b *bench) cleanup() {
	if b.c.Keep {
		return
	}
	b.ps.stopAll()
	_, _ = b.ps.run("streams-delete", time.Minute, b.c.Bin, "streams", "delete")
	ctx := context.Background()
	for _, pat := range []string{b.id + ":*", "asynq:{" + b.id + "}.*", "asynq:{" + b.id + ".*", "asynq:{" + b.id + "-raw}*"} {
		b.unlinkMatching(ctx, pat)
	}
	for _, q := range append(taskq.DefaultQueues(b.id).All(), b.id+".interactive", b.id+".default", b.id+".batch", b.id+".control", b.id+"-raw") {
		b.rdb.SRem(ctx, "asynq:queues", q)
	}
	_ = os.RemoveAll(filepath.Join(b.dir, "segments"))
}

// unlinkMatching deletes the keys matching a SCAN pattern, 1,000 per UNLINK.
func (b *bench) unlinkMatching(ctx context.Context, pattern string) {
	it := b.rdb.Scan(ctx, 0, pattern, 5000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	for i := 0; i < len(keys); i += 1000 {
		b.rdb.Unlink(ctx, keys[i:min(i+1000, len(keys))]...)
	}
}

// startCore declares the streams and starts the scheduler and the workers.
func (b *bench) startCore(ctx context.Context) error {
	if _, err := b.ps.run("streams-declare", time.Minute, b.c.Bin, "streams", "declare"); err != nil {
		return err
	}
	if _, err := b.ps.start("scheduler", b.c.Bin, "scheduler", "--http-addr", b.port(0), "--admin-token", b.token); err != nil {
		return err
	}
	for i := 1; i <= b.c.Workers; i++ {
		if _, err := b.ps.start(fmt.Sprintf("worker-%d", i), b.c.Bin, "worker", "--id", fmt.Sprintf("%s-worker-%d", b.id, i),
			"--metrics-addr", b.port(10+i)); err != nil {
			return err
		}
	}
	return waitFor(ctx, "workers advertising noop to the scheduler", 2*time.Minute, 200*time.Millisecond, b.ps.alive, func() (bool, error) {
		var fns map[string]int
		if err := getJSON(ctx, b.sched+"/v1/functions", b.token, &fns); err != nil {
			return false, err
		}
		return fns["noop"] >= b.c.Workers, nil
	})
}

// runs collects the runs of the scheduler measurements: system -> shape ->
// list of runs.
type runs map[string]any

func (o runs) add(system, shape string, x map[string]any) {
	s, _ := o[system].(map[string]any)
	if s == nil {
		s = map[string]any{}
		o[system] = s
	}
	prev, _ := s[shape].([]map[string]any)
	s[shape] = append(prev, x)
}

// size is the -tasks of a shape: independent tasks, or the tree's leaves.
func (b *bench) size(shape string) string {
	if shape == "tree" {
		return strconv.Itoa(b.c.Leaves)
	}
	return strconv.Itoa(b.c.Tasks)
}

// scheduler: graph bench vs raw asynq vs Dask, each shape, c.Runs times.
func (b *bench) scheduler(ctx context.Context) error {
	out := runs{}
	for r := 1; r <= b.c.Runs; r++ {
		for _, step := range []func(int, runs) error{b.graphBench, b.rawAsynq, b.dask} {
			if err := step(r, out); err != nil {
				return err
			}
		}
	}
	out["raw_asynq_concurrency"] = 2 * b.nproc()
	b.res["scheduler"] = out
	return nil
}

// graphBench runs `tributary graph bench` for each shape.
func (b *bench) graphBench(r int, out runs) error {
	for _, shape := range []string{"independent", "tree"} {
		b.logf("scheduler run %d: tributary graph bench --shape %s --tasks %s", r, shape, b.size(shape))
		res, err := b.ps.run("graph-bench", 10*time.Minute, b.c.Bin, "graph", "bench", "--scheduler-url", b.sched, "--admin-token", b.token,
			"--shape", shape, "--tasks", b.size(shape))
		if err != nil {
			return err
		}
		x, err := parseGraphBench(res.stdout)
		if err != nil {
			return err
		}
		out.add("tributary", shape, x)
	}
	return nil
}

// rawAsynq runs raw asynq with as many server processes as Tributary has
// workers, each one asynq server with the Tributary worker's default
// concurrency and poll interval; the client enqueues from 8 goroutines.
func (b *bench) rawAsynq(r int, out runs) error {
	b.logf("scheduler run %d: raw asynq, %d server processes", r, b.c.Workers)
	queue := b.id + "-raw"
	var servers []*proc
	defer func() {
		for _, p := range servers {
			b.ps.stop(p)
		}
	}()
	for i := 1; i <= b.c.Workers; i++ {
		p, err := b.ps.start(fmt.Sprintf("rawasynq-server-%d", i), b.c.RawAsynq, "-role", "server", "-queue", queue,
			"-concurrency", strconv.Itoa(2*b.nproc()))
		if err != nil {
			return err
		}
		servers = append(servers, p)
	}
	time.Sleep(time.Second) // the servers connect and start polling
	for _, shape := range []string{"independent", "tree"} {
		res, err := b.ps.run("rawasynq-client", 10*time.Minute, b.c.RawAsynq, "-role", "client", "-queue", queue,
			"-shape", shape, "-tasks", b.size(shape))
		if err != nil {
			return err
		}
		var x map[string]any
		if err := json.Unmarshal(lastLine(res.stdout), &x); err != nil {
			return fmt.Errorf("rawasynq output %q: %w", res.stdout, err)
		}
		out.add("raw_asynq", shape, x)
	}
	return nil
}

// dask runs bench/scheduler_dask.py: both shapes, out of the box and tuned.
func (b *bench) dask(r int, out runs) error {
	b.logf("scheduler run %d: Dask (out of the box and tuned)", r)
	res, err := b.ps.run("dask-scheduler", 15*time.Minute, b.c.Python, "bench/scheduler_dask.py",
		strconv.Itoa(b.c.Tasks), strconv.Itoa(b.c.Leaves), "8")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(res.stdout), "\n") {
		f := strings.Fields(l)
		if len(f) != 5 {
			continue
		}
		tasks, _ := strconv.Atoi(f[2])
		sec, _ := strconv.ParseFloat(f[3], 64)
		rate, _ := strconv.ParseFloat(f[4], 64)
		sys := map[string]string{"dask": "dask", "dask-tuned": "dask_tuned"}[f[0]]
		out.add(sys, f[1], map[string]any{"tasks": tasks, "seconds": sec, "tasks_per_s": rate})
	}
	return nil
}

func (b *bench) nproc() int { return b.res["machine"].(map[string]any)["nproc"].(int) }

// parseGraphBench reads `graph bench`'s line shape=... tasks=... total=... tasks_per_s=...
func parseGraphBench(out []byte) (map[string]any, error) {
	x := map[string]any{}
	for _, f := range strings.Fields(string(lastLine(out))) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "tasks", "tasks_per_s":
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("graph bench %s=%q", k, v)
			}
			x[k] = n
		case "total", "submit":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("graph bench %s=%q", k, v)
			}
			x[map[string]string{"total": "seconds", "submit": "submit_seconds"}[k]] = d.Seconds()
		}
	}
	if _, ok := x["tasks_per_s"]; !ok {
		return nil, fmt.Errorf("graph bench printed %q", out)
	}
	return x, nil
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// status is the part of serve's /v1/status the bench reads.
type status struct {
	Speed struct {
		Partitions []struct {
			Offset      int64  `json:"offset"`
			Applied     int64  `json:"applied"`
			Late        int64  `json:"late"`
			Duplicates  int64  `json:"duplicates"`
			Quarantined int64  `json:"quarantined"`
			Lag         *int64 `json:"lag"`
		} `json:"partitions"`
	} `json:"speed"`
	BatchLayer struct {
		Current *struct {
			Version     int64     `json:"version"`
			PublishedAt time.Time `json:"published_at"`
			Events      int64     `json:"events"`
			Segments    int64     `json:"segments"`
		} `json:"current"`
		Archive *struct {
			Partitions []struct {
				Events   int64 `json:"events"`
				Segments int64 `json:"segments"`
			} `json:"partitions"`
		} `json:"archive"`
		Reconcile json.RawMessage `json:"reconcile"`
	} `json:"batch_layer"`
}

func (b *bench) status(ctx context.Context) (*status, error) {
	var st status
	return &st, getJSON(ctx, b.serve+"/v1/status", "", &st)
}

// speed: replay at max speed with the speed workers running; timed until
// every committed offset reaches its stream's end; then serve's worst
// admitted queries over the speed layer alone (speedOnly), then the bare
// consumer.
func (b *bench) speed(ctx context.Context) error {
	if err := b.startSpeed(ctx); err != nil {
		return err
	}
	out, err := b.replay(ctx)
	if err != nil {
		return err
	}
	// Before any batch run: serve's worst admitted queries, every hour read
	// from the speed layer.
	if out["serve_speed_only"], err = b.speedOnly(ctx, b.c.AllData); err != nil {
		return fmt.Errorf("speed-only queries: %w", err)
	}
	b.logf("speed: bare amqp091 consumer of the same streams")
	res, err := b.ps.run("rawconsume", 30*time.Minute, b.c.RawConsume, "-stream-prefix", b.id+".flights",
		"-partitions", strconv.Itoa(b.c.Partitions))
	if err != nil {
		return err
	}
	var rc map[string]any
	if err := json.Unmarshal(lastLine(res.stdout), &rc); err != nil {
		return fmt.Errorf("rawconsume output %q: %w", res.stdout, err)
	}
	if sec, ok := rc["seconds"].(float64); ok && sec > 0 {
		rc["events_per_s"] = round(float64(b.c.Rows)/sec, 0)
	}
	out["raw_consume"] = rc
	b.res["speed"] = out
	return nil
}

// startSpeed starts the speed workers and serve, and waits until the
// workers own every partition and serve answers.
func (b *bench) startSpeed(ctx context.Context) error {
	if err := b.startSpeedWorkers("", b.id, 20); err != nil {
		return err
	}
	if _, err := b.ps.start("serve", b.c.Bin, "serve", "--http-addr", b.port(1), "--scheduler-url", b.sched,
		"--admin-token", b.token); err != nil {
		return err
	}
	// The replay starts once the partitions' hand-over has settled.
	if err := b.waitBalanced(ctx, 20); err != nil {
		return err
	}
	return waitFor(ctx, "serve's /v1/status", time.Minute, 200*time.Millisecond, b.ps.alive, func() (bool, error) {
		_, err := b.status(ctx)
		return err == nil, err
	})
}

// startSpeedWorkers starts SpeedWorkers `tributary speed` named
// <name>speed-<i>, worker IDs <id>-speed-<i>, /metrics on ports base+i.
func (b *bench) startSpeedWorkers(name, id string, base int) error {
	for i := 1; i <= b.c.SpeedWorkers; i++ {
		args := []string{"speed", "--worker-id", fmt.Sprintf("%s-speed-%d", id, i), "--metrics-addr", b.port(base + i)}
		if b.c.Flush != "" {
			args = append(args, "--flush-interval", b.c.Flush)
		}
		if _, err := b.ps.start(fmt.Sprintf("%sspeed-%d", name, i), b.c.Bin, args...); err != nil {
			return err
		}
	}
	return nil
}

// stopSpeedWorkers stops the speed workers startSpeedWorkers named name...
func (b *bench) stopSpeedWorkers(name string) {
	for i := b.c.SpeedWorkers; i >= 1; i-- {
		if p := b.ps.byName(fmt.Sprintf("%sspeed-%d", name, i)); p != nil {
			b.ps.stop(p)
		}
	}
}

// replay runs `tributary replay --speed max` and waits for the speed layer
// to catch up, with Redis's work in between.
func (b *bench) replay(ctx context.Context) (map[string]any, error) {
	before, err := readRedis(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	cpu0, err := b.speedCPU(ctx)
	if err != nil {
		return nil, err
	}
	b.logf("speed: tributary replay --speed max --limit %d --encoding %s", b.c.Rows, b.c.Encoding)
	t0 := time.Now()
	_, err = b.ps.run("replay", 30*time.Minute, b.c.Bin, "replay", "--data", b.c.Data, "--speed", "max",
		"--limit", strconv.FormatInt(b.c.Rows, 10), "--encoding", b.c.Encoding, "--metrics-addr", b.port(3))
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	applied, err := b.caughtUp(ctx)
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	after, err := readRedis(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	cpu1, err := b.speedCPU(ctx)
	if err != nil {
		return nil, err
	}
	workers, err := b.speedMetrics(ctx, 20)
	if err != nil {
		return nil, err
	}
	// The speed workers' own CPU per million events: on a shared machine
	// it moves far less with other load than the wall-clock rate does.
	workers["cpu_seconds"] = round(cpu1-cpu0, 3)
	workers["cpu_s_per_million_events"] = round((cpu1-cpu0)*1e6/float64(applied), 3)
	b.logf("speed: caught up %.1f s after the replay's end (%.0f events/s; speed workers %.2f CPU s per 1M events)",
		t2.Sub(t1).Seconds(), float64(applied)/t2.Sub(t0).Seconds(), workers["cpu_s_per_million_events"])
	return map[string]any{
		"events": applied, "replay_seconds": round(t1.Sub(t0).Seconds(), 3),
		"replay_events_per_s":   round(float64(b.c.Rows)/t1.Sub(t0).Seconds(), 0),
		"caught_up_seconds":     round(t2.Sub(t0).Seconds(), 3),
		"behind_replay_end_s":   round(t2.Sub(t1).Seconds(), 3),
		"applied_events_per_s":  round(float64(applied)/t2.Sub(t0).Seconds(), 0),
		"redis_per_1000_events": perThousand(before, after, float64(applied)),
		"poll_interval_ms":      100,
		"workers":               workers,
	}, nil
}

// speedMetrics sums the counters of the speed workers on ports base+1..
// (their /metrics): events applied, flushes, and lease moves (under load,
// leases that expire move partitions between workers and refused flushes
// are applied again by the new owner).
func (b *bench) speedMetrics(ctx context.Context, base int) (map[string]float64, error) {
	names := map[string]string{"flushes": "tributary_speed_flush_duration_seconds_count",
		"flush_seconds": "tributary_speed_flush_duration_seconds_sum", "flush_refused": "tributary_speed_flush_refused_total",
		"leases_lost": "tributary_speed_leases_lost_total", "rebalances": "tributary_speed_rebalances_total",
		"flush_errors": "tributary_speed_flush_errors_total", "applied": "tributary_speed_events_applied_total"}
	out := map[string]float64{}
	for i := 1; i <= b.c.SpeedWorkers; i++ {
		txt, err := getText(ctx, "http://"+b.port(base+i)+"/metrics")
		if err != nil {
			return nil, err
		}
		for k, name := range names {
			v, _ := metricSum(txt, name)
			out[k] += v
		}
	}
	if out["flushes"] > 0 {
		out["flush_mean_ms"] = round(out["flush_seconds"]*1000/out["flushes"], 1)
	}
	return out, nil
}

// speedCPU sums the speed workers' process_cpu_seconds_total.
func (b *bench) speedCPU(ctx context.Context) (float64, error) {
	var sum float64
	for i := 1; i <= b.c.SpeedWorkers; i++ {
		txt, err := getText(ctx, "http://"+b.port(20+i)+"/metrics")
		if err != nil {
			return 0, err
		}
		v, ok := metricSum(txt, "process_cpu_seconds_total")
		if !ok {
			return 0, fmt.Errorf("speed-%d: no process_cpu_seconds_total in /metrics", i)
		}
		sum += v
	}
	return sum, nil
}

// caughtUp waits until every partition's committed offset is its stream's
// last and the events counted reach the rows replayed; it returns them.
func (b *bench) caughtUp(ctx context.Context) (int64, error) {
	var counted int64
	err := waitFor(ctx, "speed workers catching up", 60*time.Minute, 100*time.Millisecond, b.ps.alive, func() (bool, error) {
		st, err := b.status(ctx)
		if err != nil {
			return false, err
		}
		counted = 0
		caught := len(st.Speed.Partitions) == b.c.Partitions
		for _, p := range st.Speed.Partitions {
			counted += p.Applied + p.Late + p.Duplicates + p.Quarantined
			if p.Lag == nil || *p.Lag != 0 {
				caught = false
			}
		}
		return caught && counted >= b.c.Rows, nil
	})
	return counted, err
}

// batch: archive everything (not timed), then batch run --wait, then pandas
// and tuned Dask on the same flights.
func (b *bench) batch(ctx context.Context) error {
	b.logf("batch: tributary archive (not timed)")
	t0 := time.Now()
	if _, err := b.ps.start("archive", b.c.Bin, "archive", "--metrics-addr", b.port(2)); err != nil {
		return err
	}
	var archived, segments int64
	err := waitFor(ctx, "the archive holding every event", 60*time.Minute, 500*time.Millisecond, b.ps.alive, func() (bool, error) {
		st, err := b.status(ctx)
		if err != nil || st.BatchLayer.Archive == nil {
			return false, err
		}
		archived, segments = 0, 0
		for _, p := range st.BatchLayer.Archive.Partitions {
			archived += p.Events
			segments += p.Segments
		}
		return archived >= b.c.Rows, nil
	})
	if err != nil {
		return err
	}
	out := map[string]any{"archive_seconds": round(time.Since(t0).Seconds(), 1), "archived_events": archived, "segments": segments}
	rewrite, err := settleAOF(ctx, b.rdb)
	if err != nil {
		return err
	}
	out["aof_rewrite_before_seconds"] = round(rewrite.Seconds(), 2)
	b.logf("batch: tributary batch run --wait (%d events, %d segments)", archived, segments)
	res, err := b.ps.run("batch-run", 60*time.Minute, b.c.Bin, "batch", "run", "--wait", "--scheduler-url", b.sched,
		"--admin-token", b.token)
	if err != nil {
		return err
	}
	// serve loads its first view holding its lock: under load its
	// /v1/status may take longer than one request's timeout meanwhile.
	var st *status
	err = waitFor(ctx, "serve's /v1/status after the batch run", 3*time.Minute, 500*time.Millisecond, b.ps.alive, func() (bool, error) {
		var err error
		st, err = b.status(ctx)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	if st.BatchLayer.Current == nil {
		return fmt.Errorf("batch run returned but no view is published")
	}
	out["returned_seconds"] = round(res.seconds, 3)
	out["published_seconds"] = round(st.BatchLayer.Current.PublishedAt.Sub(res.start).Seconds(), 3)
	out["view_events"] = st.BatchLayer.Current.Events
	out["view_version"] = st.BatchLayer.Current.Version
	if len(st.BatchLayer.Reconcile) > 0 {
		out["reconcile"] = st.BatchLayer.Reconcile
	}
	b.logf("batch: published after %.2f s, returned after %.2f s", out["published_seconds"], res.seconds)

	csv := filepath.Join(b.dir, "flights.csv")
	if err := writeCSV(ctx, b.c.Data, csv, b.c.Rows); err != nil {
		return err
	}
	defer os.Remove(csv)
	// The like-for-like references first: the same two hourly views. Their
	// bucket count over the reconciled hours must be the reconciliation's,
	// or they computed something else.
	var rec struct {
		To      int64 `json:"to"`
		Buckets int64 `json:"buckets"`
	}
	if len(st.BatchLayer.Reconcile) > 0 {
		if err := json.Unmarshal(st.BatchLayer.Reconcile, &rec); err != nil {
			return fmt.Errorf("reconcile report: %w", err)
		}
	}
	for _, ref := range []struct{ script, tool, key string }{
		{"bench/batch_views.py", "pandas", "pandas_views"},
		{"bench/batch_views.py", "dask", "dask_views_tuned"},
		{"bench/batch_stats.py", "pandas", "pandas"},
		{"bench/batch_stats.py", "dask", "dask_tuned"},
	} {
		b.logf("batch: %s %s", ref.script, ref.tool)
		args := []string{ref.script, ref.tool, csv}
		if ref.script == "bench/batch_views.py" && rec.To > 0 {
			args = append(args, strconv.FormatInt(rec.To, 10))
		}
		res, err := b.ps.run("batch-"+ref.key, 30*time.Minute, b.c.Python, args...)
		if err != nil {
			return err
		}
		var x map[string]any
		if err := json.Unmarshal(lastLine(res.stdout), &x); err != nil {
			return fmt.Errorf("%s output %q: %w", ref.key, res.stdout, err)
		}
		x["end_to_end_s"] = round(x["load_s"].(float64)+x["compute_s"].(float64), 3)
		if err := checkViews(x, rec.Buckets, b.c.Rows); err != nil {
			return fmt.Errorf("%s: %w", ref.key, err)
		}
		out[ref.key] = x
	}
	b.res["batch"] = out
	return nil
}

// checkViews checks a views reference's output (bench/batch_views.py's: it
// has "views"): every view counts every one of the rows flights, and the
// buckets before the reconciliation's end are the reconciliation's (when it
// ran). The per-airport references have no views and pass.
func checkViews(x map[string]any, reconciled, rows int64) error {
	views, ok := x["views"].(map[string]any)
	if !ok {
		return nil
	}
	var before int64
	for name, v := range views {
		m, _ := v.(map[string]any)
		if ev, _ := m["events"].(float64); rows > 0 && int64(ev) != rows {
			return fmt.Errorf("view %s counts %d flights, want %d", name, int64(ev), rows)
		}
		n, _ := m["buckets_before"].(float64)
		before += int64(n)
	}
	if reconciled > 0 && before != reconciled {
		return fmt.Errorf("%d buckets before the reconciliation's end, the reconciliation compared %d", before, reconciled)
	}
	return nil
}

// serveLoad: the queries over all data, uncached, one at a time; the load
// generator on cache-defeating ranges; then redis-benchmark GET on the same
// Redis.
func (b *bench) serveLoad(ctx context.Context) error {
	out := map[string]any{}
	all, err := b.allData(ctx, b.c.AllData)
	if err != nil {
		return fmt.Errorf("queries over all data: %w", err)
	}
	out["all_data"] = all
	d := strconv.Itoa(b.c.ServeSeconds) + "s"
	for _, mode := range []struct{ name, rate string }{{"closed", "0"}, {"open", strconv.Itoa(b.c.OpenRate)}} {
		b.logf("serve: loadgen %s loop, %s", mode.name, d)
		res, err := b.ps.run("loadgen-"+mode.name, 10*time.Minute, b.c.Loadgen, "-url", b.serve, "-mix", "hours",
			"-rate", mode.rate, "-c", strconv.Itoa(b.c.Conns), "-d", d)
		if res == nil {
			return err
		}
		var x map[string]any
		if jerr := json.Unmarshal(lastLine(res.stdout), &x); jerr != nil {
			return fmt.Errorf("loadgen: %v, output %q: %w", err, res.stdout, jerr)
		}
		out[mode.name] = x
	}
	b.logf("serve: redis-benchmark GET")
	u, err := url.Parse(os.Getenv("TRIBUTARY_REDIS_URL"))
	if err != nil {
		return err
	}
	pass, _ := u.User.Password()
	n := strconv.Itoa(max(100000, b.c.ServeSeconds*30000))
	res, err := b.ps.run("redis-benchmark", 10*time.Minute, "redis-benchmark", "-h", u.Hostname(), "-p", u.Port(), "-a", pass,
		"-t", "get", "-c", strconv.Itoa(b.c.Conns), "-n", n, "--csv")
	if err != nil {
		return err
	}
	rb, err := parseRedisBenchmark(res.stdout)
	if err != nil {
		return err
	}
	out["redis_get"] = rb
	b.res["serve"] = out
	// The roles' peak RSS is read as they stop, at the end of the run.
	return nil
}

// parseRedisBenchmark reads the GET line of redis-benchmark --csv.
func parseRedisBenchmark(out []byte) (map[string]any, error) {
	var header []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		if len(f) > 1 && f[0] == "test" {
			header = f
			continue
		}
		if len(f) > 1 && f[0] == "GET" {
			x := map[string]any{}
			for i, v := range f[1:] {
				name := "rps"
				if header != nil && i+1 < len(header) {
					name = header[i+1]
				}
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					x[name] = n
				}
			}
			return x, nil
		}
	}
	return nil, fmt.Errorf("redis-benchmark printed no GET line: %q", out)
}

// settleAOF rewrites Redis's append-only file, and waits for the rewrite to
// end, before a timed phase: after the speed phase's writes the AOF has
// grown past auto-aof-rewrite-percentage, and the automatic rewrite (a
// fork copying the whole data set, ~2 s of a core here) then started in
// the middle of the batch run, at random, moving its times by up to 0.5 s.
// Redis keeps its configuration, as users run it; only the moment of that
// rewrite is chosen. It returns how long the rewrite took (0: AOF off).
func settleAOF(ctx context.Context, rdb *redis.Client) (time.Duration, error) {
	field := func(name string) (string, error) {
		info, err := rdb.Info(ctx, "persistence").Result()
		if err != nil {
			return "", fmt.Errorf("redis INFO persistence: %w", err)
		}
		if v, ok := infoField(info, name); ok {
			return v, nil
		}
		return "", fmt.Errorf("redis INFO persistence: no %s", name)
	}
	if on, err := field("aof_enabled"); err != nil || on != "1" {
		return 0, err
	}
	t0 := time.Now()
	busy := func() (bool, error) {
		for _, f := range []string{"aof_rewrite_in_progress", "aof_rewrite_scheduled"} {
			v, err := field(f)
			if err != nil || v != "0" {
				return true, err
			}
		}
		return false, nil
	}
	// One already running (or scheduled) must end before BGREWRITEAOF is
	// accepted; then ours.
	for _, start := range []bool{false, true} {
		if start {
			if err := rdb.BgRewriteAOF(ctx).Err(); err != nil {
				return 0, fmt.Errorf("redis BGREWRITEAOF: %w", err)
			}
		}
		for {
			b, err := busy()
			if err != nil {
				return 0, err
			}
			if !b {
				break
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return time.Since(t0), nil
}
