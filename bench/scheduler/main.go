package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tributary-dev/tributary/internal/testenv"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

type opts struct {
	system, shape       string
	tasks, leaves, fan  int
	concurrency         int
	processors          int
	window              time.Duration
	checkEvery          time.Duration
	redisURL, keyPrefix string
	procs               int
	queue               string
}

func main() {
	var o opts
	flag.StringVar(&o.system, "system", "tributary", "raw (asynq alone) or tributary")
	flag.StringVar(&o.shape, "shape", "independent", "independent or tree")
	flag.IntVar(&o.tasks, "tasks", 10000, "independent tasks")
	flag.IntVar(&o.leaves, "leaves", 1000, "leaves of the tree")
	flag.IntVar(&o.fan, "fan-in", 8, "fan-in of the tree")
	flag.IntVar(&o.concurrency, "concurrency", 8, "asynq server concurrency")
	flag.IntVar(&o.processors, "processors", 0, "asynq servers sharing -concurrency (Tributary: 0 is the worker's default; raw: 0 is 1)")
	flag.DurationVar(&o.window, "coalesce-window", 0, "Tributary worker's CoalesceWindow (0: its default)")
	flag.DurationVar(&o.checkEvery, "task-check-interval", 20*time.Millisecond, "asynq TaskCheckInterval")
	flag.IntVar(&o.procs, "procs", 0, "raw: run the asynq servers in this many child processes (one server each unless -processors), as 'tributary worker' processes are; 0: in this process")
	flag.StringVar(&o.queue, "queue", "", "raw-serve: the queue to serve (set by -procs)")
	prefix := flag.String("prefix", "", "cleanup: the key prefix whose keys and queues to delete")
	label := flag.String("label", "", "system name printed (default: -system)")
	flag.StringVar(&o.redisURL, "redis-url", os.Getenv("TRIBUTARY_REDIS_URL"), "Redis URL")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile")
	redisStats := flag.Bool("redis-stats", false, "print Redis CPU and command calls per task (deltas of INFO, to stderr)")
	flag.Parse()
	defer startProfile(*cpuprof)()
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	o.keyPrefix = "bench-" + hex.EncodeToString(nonce)
	opt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		fail(err)
	}
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	defer cleanup(rdb, o.keyPrefix)
	ctx := context.Background()
	var before map[string]float64
	if *redisStats {
		before = redisInfo(ctx, rdb)
	}
	cpu0 := processCPU()
	var n int
	var el time.Duration
	switch o.system {
	case "cleanup": // bench/scheduler.sh: delete a run's keys and queues
		if *prefix == "" {
			fail(errors.New("cleanup needs -prefix"))
		}
		cleanup(rdb, *prefix)
		return
	case "redis-snapshot": // bench/scheduler.sh -redis-stats: Redis CPU and commandstats now
		for k, v := range redisInfo(ctx, rdb) {
			fmt.Println(k, v)
		}
		return
	case "raw-serve":
		if err := serveRaw(ctx, rdb, o); err != nil {
			fail(err)
		}
		return
	case "raw":
		n, el, err = runRaw(ctx, rdb, o)
	case "tributary":
		n, el, err = runTributary(ctx, rdb, o)
	default:
		err = fmt.Errorf("system %q", o.system)
	}
	if err != nil {
		fail(err)
	}
	if *label == "" {
		*label = o.system
	}
	fmt.Printf("%s %s %d %.3f %.0f\n", *label, o.shape, n, el.Seconds(), float64(n)/el.Seconds())
	if *redisStats {
		fmt.Fprintf(os.Stderr, "bench process (and -procs children) cpu per task: %.1f µs\n", (processCPU()-cpu0).Seconds()*1e6/float64(n))
		printRedisDelta(before, redisInfo(ctx, rdb), n)
	}
}

// startProfile starts a CPU profile into path (none when empty) and returns
// what stops it.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fail(err)
	}
	return pprof.StopCPUProfile
}

// processCPU is the CPU time (user and system) used by this process and
// its waited-for children (the -procs servers) so far.
func processCPU() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}

// redisInfo reads Redis's CPU seconds and per-command calls and µs (INFO
// cpu and commandstats; deltas include other clients of the same Redis).
func redisInfo(ctx context.Context, rdb redis.UniversalClient) map[string]float64 {
	m := make(map[string]float64)
	txt, err := rdb.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return m
	}
	for _, line := range strings.Split(txt, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			m["cpu"] += f
		case strings.HasPrefix(k, "cmdstat_"):
			for _, kv := range strings.Split(v, ",") {
				f, val, _ := strings.Cut(kv, "=")
				if f == "calls" || f == "usec" {
					x, _ := strconv.ParseFloat(val, 64)
					m[strings.TrimPrefix(k, "cmdstat_")+"."+f] = x
				}
			}
		}
	}
	return m
}

func printRedisDelta(a, b map[string]float64, n int) {
	fmt.Fprintf(os.Stderr, "redis cpu per task: %.1f µs\n", (b["cpu"]-a["cpu"])*1e6/float64(n))
	var names []string
	for k := range b {
		if name, ok := strings.CutSuffix(k, ".calls"); ok && b[k]-a[k] > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, c := range names {
		calls := b[c+".calls"] - a[c+".calls"]
		usec := b[c+".usec"] - a[c+".usec"]
		fmt.Fprintf(os.Stderr, "  %-12s %6.2f calls/task %6.1f µs/task\n", c, calls/float64(n), usec/float64(n))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// treeLevels returns the task count of each level of a reduction.
func treeLevels(leaves, fan int) []int {
	lv := []int{leaves}
	for n := leaves; n > 1; {
		n = (n + fan - 1) / fan
		lv = append(lv, n)
	}
	return lv
}

func runRaw(ctx context.Context, rdb redis.UniversalClient, o opts) (int, time.Duration, error) {
	q := o.keyPrefix + ".raw"
	if o.procs > 0 {
		return runRawProcs(ctx, rdb, o, q)
	}
	// waiting says a level waits for target: the handler signals once, and
	// never for a level that had already finished when its wait began.
	var (
		done    atomic.Int64
		mu      sync.Mutex
		target  int64
		waiting bool
		signal  = make(chan struct{}, 1)
	)
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error {
		n := done.Add(1)
		mu.Lock()
		if waiting && n >= target {
			waiting = false
			signal <- struct{}{}
		}
		mu.Unlock()
		return nil
	})
	servers := max(o.processors, 1)
	for i := range servers {
		c := max(o.concurrency/servers+min(max(o.concurrency%servers-i, 0), 1), 1)
		srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: c, Queues: map[string]int{q: 1},
			TaskCheckInterval: o.checkEvery, LogLevel: asynq.WarnLevel})
		if err := srv.Start(mux); err != nil {
			return 0, 0, err
		}
		defer srv.Shutdown()
	}
	return rawLevels(ctx, rdb, o, q, func(total int) error {
		mu.Lock()
		target = int64(total)
		if done.Load() >= target {
			mu.Unlock()
			return nil
		}
		waiting = true
		mu.Unlock()
		select {
		case <-signal:
			return nil
		case <-time.After(5 * time.Minute):
			return fmt.Errorf("raw: timed out at %d of %d", done.Load(), total)
		}
	})
}

// rawLevels enqueues the levels of the shape on queue q (the tree level by
// level, since asynq has no dependencies), calling wait(total) after each.
func rawLevels(ctx context.Context, rdb redis.UniversalClient, o opts, q string, wait func(total int) error) (int, time.Duration, error) {
	cli := asynq.NewClientFromRedisClient(rdb)
	levels := []int{o.tasks}
	if o.shape == "tree" {
		levels = treeLevels(o.leaves, o.fan)
	}
	total := 0
	start := time.Now()
	for l, n := range levels {
		total += n
		eg, _ := errgroup.WithContext(ctx)
		const senders = 8
		for s := range senders {
			eg.Go(func() error {
				for i := s; i < n; i += senders {
					if _, err := cli.EnqueueContext(ctx, asynq.NewTask("noop", nil), asynq.Queue(q),
						asynq.TaskID(fmt.Sprintf("l%d-%d", l, i))); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return 0, 0, err
		}
		if err := wait(total); err != nil {
			return 0, 0, err
		}
	}
	return total, time.Since(start), nil
}

// runRawProcs is raw asynq in the deployed shape: o.procs child processes
// (this binary, -system raw-serve) each run the asynq servers, this one
// enqueues and watches asynq's own processed counter of the queue (which its
// done script increments), so that nothing is added per task.
func runRawProcs(ctx context.Context, rdb redis.UniversalClient, o opts, q string) (int, time.Duration, error) {
	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	}()
	for range o.procs {
		c := exec.CommandContext(ctx, os.Args[0], "-system", "raw-serve", "-queue", q, "-redis-url", o.redisURL,
			"-concurrency", strconv.Itoa(o.concurrency), "-processors", strconv.Itoa(max(o.processors, 1)),
			"-task-check-interval", o.checkEvery.String())
		c.Stderr = os.Stderr
		out, err := c.StdoutPipe()
		if err != nil {
			return 0, 0, err
		}
		if err := c.Start(); err != nil {
			return 0, 0, err
		}
		children = append(children, c)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			return 0, 0, fmt.Errorf("raw-serve child: %q %v", line, err)
		}
	}
	processed := "asynq:{" + q + "}:processed"
	return rawLevels(ctx, rdb, o, q, func(total int) error {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			n, err := rdb.Get(ctx, processed).Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if n >= total {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("raw: timed out at %d of %d", n, total)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}

// serveRaw is a child of runRawProcs: asynq servers with a no-op handler on
// o.queue until SIGTERM.
func serveRaw(ctx context.Context, rdb redis.UniversalClient, o opts) error {
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error { return nil })
	servers := max(o.processors, 1)
	for i := range servers {
		c := max(o.concurrency/servers+min(max(o.concurrency%servers-i, 0), 1), 1)
		srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: c, Queues: map[string]int{o.queue: 1},
			TaskCheckInterval: o.checkEvery, LogLevel: asynq.WarnLevel})
		if err := srv.Start(mux); err != nil {
			return err
		}
		defer srv.Shutdown()
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

func runTributary(ctx context.Context, rdb redis.UniversalClient, o opts) (int, time.Duration, error) {
	reg, err := workers.NewRegistry(builtin.Register)
	if err != nil {
		return 0, 0, err
	}
	w, err := workers.New(workers.Config{Redis: rdb, KeyPrefix: o.keyPrefix, Concurrency: o.concurrency,
		Processors: o.processors, CoalesceWindow: o.window, TaskCheckInterval: o.checkEvery, Log: quiet()}, reg)
	if err != nil {
		return 0, 0, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = w.Run(wctx) }()
	s, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: o.keyPrefix, Log: quiet()})
	if err != nil {
		return 0, 0, err
	}
	for { // the worker advertises itself as it starts
		if fns, _ := s.Functions(ctx); fns["noop"] > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := graph.New(o.keyPrefix)
	if o.shape == "tree" {
		b.TreeReduce("r", "noop", nil, o.fan, b.Generate("t", "noop", o.leaves, nil))
	} else {
		b.Generate("t", "noop", o.tasks, nil)
	}
	g, err := b.Build()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	res, err := s.Submit(ctx, g)
	if err != nil {
		return 0, 0, err
	}
	wctx2, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := scheduler.Wait(wctx2, s.Status, res.ID, 5*time.Millisecond, nil)
	if err != nil {
		return 0, 0, err
	}
	el := time.Since(start)
	if st.State != scheduler.GraphDone {
		return 0, 0, fmt.Errorf("graph %s: %s %s", st.ID, st.State, st.Error)
	}
	return len(g.Tasks), el, nil
}

func cleanup(rdb *redis.Client, prefix string) { // *redis.Client: taskq.DeleteQueues and testenv.DeleteKeys still ask for it
	taskq.DeleteQueues(context.Background(), rdb, append(taskq.DefaultQueues(prefix).All(), prefix+".raw"))
	testenv.DeleteKeys(rdb, prefix+":*")
}
