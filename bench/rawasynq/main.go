package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

func main() {
	role := flag.String("role", "client", "server (process no-op tasks) or client (enqueue, wait, print tasks/s)")
	queue := flag.String("queue", "rawasynq", "asynq queue")
	redisURL := flag.String("redis-url", os.Getenv("TRIBUTARY_REDIS_URL"), "Redis URL")
	conc := flag.Int("concurrency", 4, "server: asynq Concurrency")
	check := flag.Duration("task-check-interval", 20*time.Millisecond, "server: asynq TaskCheckInterval")
	shape := flag.String("shape", "independent", "client: independent or tree")
	tasks := flag.Int("tasks", 10000, "client: independent tasks, or leaves of the tree")
	fanIn := flag.Int("fan-in", 8, "client: fan-in of the tree")
	senders := flag.Int("senders", 8, "client: goroutines enqueueing")
	flag.Parse()
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		fail(err)
	}
	opt.PoolSize = max(opt.PoolSize, *senders+*conc+8)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch *role {
	case "server":
		err = serve(ctx, rdb, *queue, *conc, *check)
	case "client":
		err = client(ctx, rdb, *queue, *shape, *tasks, *fanIn, *senders)
	default:
		err = fmt.Errorf("role %q: want server or client", *role)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rawasynq:", err)
	os.Exit(1)
}

// serve runs one asynq server whose handler does nothing, until ctx ends.
func serve(ctx context.Context, rdb *redis.Client, queue string, conc int, check time.Duration) error {
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error { return nil })
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: conc, Queues: map[string]int{queue: 1},
		TaskCheckInterval: check, LogLevel: asynq.WarnLevel})
	if err := srv.Start(mux); err != nil {
		return err
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// levels returns the task count of each level: one level of n independent
// tasks, or the levels of a reduction of n leaves at fan-in fan.
func levels(shape string, n, fan int) ([]int, error) {
	switch shape {
	case "independent":
		return []int{n}, nil
	case "tree":
		lv := []int{n}
		for n > 1 {
			n = (n + fan - 1) / fan
			lv = append(lv, n)
		}
		return lv, nil
	}
	return nil, fmt.Errorf("shape %q: want independent or tree", shape)
}

// client enqueues every level and waits for the queue to drain after each,
// then prints {"shape","tasks","seconds","tasks_per_s"}.
func client(ctx context.Context, rdb *redis.Client, queue, shape string, n, fan, senders int) error {
	lv, err := levels(shape, n, fan)
	if err != nil {
		return err
	}
	cli := asynq.NewClientFromRedisClient(rdb)
	ins := asynq.NewInspectorFromRedisClient(rdb)
	defer func() { _ = ins.DeleteQueue(queue, true) }()
	run := time.Now().UnixNano()
	total := 0
	start := time.Now()
	for l, cnt := range lv {
		eg, ectx := errgroup.WithContext(ctx)
		for s := range senders {
			eg.Go(func() error {
				for i := s; i < cnt; i += senders {
					if _, err := cli.EnqueueContext(ectx, asynq.NewTask("noop", nil), asynq.Queue(queue),
						asynq.TaskID(fmt.Sprintf("%d-l%d-%d", run, l, i))); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return err
		}
		total += cnt
		if err := drained(ctx, ins, queue, 5*time.Minute); err != nil {
			return fmt.Errorf("level %d: %w", l, err)
		}
	}
	el := time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"shape": shape, "tasks": total,
		"seconds": el.Seconds(), "tasks_per_s": float64(total) / el.Seconds()})
}

// drained waits until the queue holds no task in any state (asynq deletes
// a task once processed, as no retention is set).
func drained(ctx context.Context, ins *asynq.Inspector, queue string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		qi, err := ins.GetQueueInfo(queue)
		if err != nil {
			return err
		}
		if qi.Retry+qi.Archived > 0 {
			return fmt.Errorf("%d tasks failed", qi.Retry+qi.Archived)
		}
		if qi.Size == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out with %d tasks left", qi.Size)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
