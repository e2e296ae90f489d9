package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/speed"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/metrics"
	"github.com/tributary-dev/tributary/speed/store"
)

type options struct {
	data          string
	rows          int64
	partitions    int
	batch         int
	workers       string
	flush         time.Duration
	prefetch      int
	latencyRate   float64
	latencyFor    time.Duration
	latencyWorker int
	bucketTTL     time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "data/flights-3m.parquet", "data set")
	flag.Int64Var(&o.rows, "rows", 1_000_000, "rows published for the throughput runs")
	flag.IntVar(&o.partitions, "partitions", 8, "partitions")
	flag.IntVar(&o.batch, "batch", 1000, "events per message (the replayer's default --batch-events)")
	flag.StringVar(&o.workers, "workers", "1,2,4", "worker counts to measure")
	flag.DurationVar(&o.flush, "flush-interval", 500*time.Millisecond, "workers' flush interval")
	flag.IntVar(&o.prefetch, "prefetch", 200, "prefetch of the workers and of the raw consumer")
	flag.Float64Var(&o.latencyRate, "latency-rate", 5000, "events/s published for the latency run")
	flag.DurationVar(&o.latencyFor, "latency-for", 20*time.Second, "length of the latency run")
	flag.IntVar(&o.latencyWorker, "latency-workers", 2, "workers in the latency run")
	flag.DurationVar(&o.bucketTTL, "bucket-ttl", 0, "workers' --bucket-ttl (0: none, the default; the bench deletes its keys)")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func unique(what string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "bench-speed-" + what + "-" + hex.EncodeToString(b)
}

func run(ctx context.Context, o options) error {
	ropt, err := redis.ParseURL(os.Getenv("TRIBUTARY_REDIS_URL"))
	if err != nil {
		return fmt.Errorf("TRIBUTARY_REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	amqpURL := os.Getenv("TRIBUTARY_AMQP_URL")
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()

	streams := topology.Streams{Prefix: unique("tput"), Partitions: o.partitions}
	defer deleteStreams(amqpURL, streams)
	start := time.Now()
	res, err := feed.Publish(ctx, conn, streams, feed.Options{DataPath: o.data, To: o.rows, Batch: o.batch, Producer: "bench"})
	if err != nil {
		return err
	}
	var msgs int64
	for _, n := range res.Messages {
		msgs += n
	}
	pub := time.Since(start)
	fmt.Printf("published %d events in %d messages (%d events/message) in %v: %.0f events/s\n\n",
		res.Events, msgs, o.batch, pub.Round(time.Millisecond), float64(res.Events)/pub.Seconds())

	raw := func() (float64, error) {
		el, err := rawConsume(ctx, amqpURL, streams, res.Messages, o.prefetch)
		if err != nil {
			return 0, err
		}
		r := float64(res.Events) / el.Seconds()
		fmt.Printf("raw consume (bare amqp091-go, %d partitions): %v, %.0f msg/s, %.0f events/s\n", o.partitions, el.Round(time.Millisecond), float64(msgs)/el.Seconds(), r)
		return r, nil
	}
	raw1, err := raw()
	if err != nil {
		return err
	}
	type row struct {
		workers int
		rate    float64
		el      time.Duration
	}
	var rows []row
	for _, ws := range strings.Split(o.workers, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			return fmt.Errorf("--workers: %w", err)
		}
		redis0, self0 := redisCPU(ctx, rdb), selfCPU()
		el, err := speedRun(ctx, ropt, rdb, amqpURL, streams, res.Messages, k, o)
		if err != nil {
			return err
		}
		r := float64(res.Events) / el.Seconds()
		fmt.Printf("speed layer, %d worker(s): %v, %.0f events/s applied; CPU: Redis %.0f%%, workers %.0f%% (of one core)\n",
			k, el.Round(time.Millisecond), r, 100*(redisCPU(ctx, rdb)-redis0)/el.Seconds(), 100*(selfCPU()-self0)/el.Seconds())
		rows = append(rows, row{k, r, el})
	}
	raw2, err := raw()
	if err != nil {
		return err
	}
	rawRate := (raw1 + raw2) / 2
	fmt.Printf("\n| workers | time | events/s applied | vs raw consume (%.0f events/s) |\n|---|---|---|---|\n", rawRate)
	for _, r := range rows {
		fmt.Printf("| %d | %v | %.0f | %.1f%% |\n", r.workers, r.el.Round(time.Millisecond), r.rate, 100*r.rate/rawRate)
	}
	fmt.Println()
	return latency(ctx, ropt, rdb, amqpURL, conn, o)
}

func deleteStreams(url string, s topology.Streams) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return
	}
	defer conn.Close()
	if ch, err := conn.Channel(); err == nil {
		_ = s.Delete(ch)
	}
}

// rawConsume reads every partition from the first message to the last with
// one channel each, acking every prefetch/2 with multiple=true, and does
// nothing else: the ceiling any consumer of these streams can reach.
func rawConsume(ctx context.Context, url string, streams topology.Streams, messages []int64, prefetch int) (time.Duration, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, streams.Partitions)
	for p := 0; p < streams.Partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := stream.Open(ctx, conn, streams.Queue(p), -1, prefetch, "raw")
			if err != nil {
				errs[p] = err
				return
			}
			defer c.Close()
			for i := int64(0); i < messages[p]; i++ {
				d, ok := <-c.Deliveries()
				if !ok {
					errs[p] = errors.New("deliveries closed")
					return
				}
				if err := c.Ack(d.DeliveryTag); err != nil {
					errs[p] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// startWorkers runs k in-process workers, each with its own connections.
func startWorkers(ctx context.Context, ropt *redis.Options, url string, streams topology.Streams, prefix string, k int, o options,
	onCommit func(int, []int64, time.Time)) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var ms []*metrics.Metrics
	var wg sync.WaitGroup
	var closers []func()
	for i := 0; i < k; i++ {
		conn, err := amqp.Dial(url)
		if err != nil {
			cancel()
			return nil, err
		}
		opt := *ropt
		rdb := redis.NewClient(&opt)
		closers = append(closers, func() { conn.Close(); rdb.Close() })
		m := metrics.New(nil)
		ms = append(ms, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := speed.Run(ctx, speed.Config{Redis: rdb, AMQP: conn, Streams: streams, KeyPrefix: prefix,
				WorkerID: fmt.Sprintf("bench-%d", i), FlushInterval: o.flush, Prefetch: o.prefetch,
				BucketTTL: o.bucketTTL, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
				OnCommit: onCommit, Metrics: m})
			if err != nil {
				fmt.Fprintln(os.Stderr, "worker:", err)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		for _, c := range closers {
			c()
		}
		var flushes uint64
		var flushSecs, refused, lost, rebal float64
		for _, m := range ms {
			var pm dto.Metric
			_ = m.Flush.Write(&pm)
			flushes += pm.GetHistogram().GetSampleCount()
			flushSecs += pm.GetHistogram().GetSampleSum()
			refused += testutil.ToFloat64(m.Refused)
			lost += testutil.ToFloat64(m.LeasesLost)
			rebal += testutil.ToFloat64(m.Rebalances)
		}
		fmt.Printf("  flushes %d (mean %.1f ms), refused %.0f, leases lost %.0f, rebalances %.0f\n",
			flushes, 1000*flushSecs/float64(max(flushes, 1)), refused, lost, rebal)
	}, nil
}

// speedRun measures k workers from start until every partition's committed
// offset is the stream's last, with fresh Redis keys.
func speedRun(ctx context.Context, ropt *redis.Options, rdb redis.UniversalClient, url string, streams topology.Streams, messages []int64, k int, o options) (time.Duration, error) {
	prefix := unique(fmt.Sprintf("w%d", k))
	defer deleteKeys(rdb, keyspace.New(prefix).Base())
	r := store.NewReader(rdb, prefix, streams.Partitions)
	start := time.Now()
	stop, err := startWorkers(ctx, ropt, url, streams, prefix, k, o, nil)
	if err != nil {
		return 0, err
	}
	defer stop()
	for {
		done := true
		for p, n := range messages {
			st, err := r.Partition(ctx, p)
			if err != nil {
				return 0, err
			}
			if st.Offset != n-1 {
				done = false
				break
			}
		}
		if done {
			return time.Since(start), nil
		}
		if time.Since(start) > 10*time.Minute {
			return 0, errors.New("speed run did not finish in 10 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deleteKeys(rdb redis.UniversalClient, base string) {
	ctx := context.Background()
	it := rdb.Scan(ctx, 0, base+"*", 5000).Iterator()
	var batch []string
	for it.Next(ctx) {
		batch = append(batch, it.Val())
		if len(batch) == 5000 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}

// latency publishes at a fixed rate into fresh streams that workers already
// own, stamping every message with its publish time, and takes each
// message's latency from that stamp to the commit of the flush that applied
// it (the worker's own accounting through Config.OnCommit).
func latency(ctx context.Context, ropt *redis.Options, rdb redis.UniversalClient, url string, conn *amqp.Connection, o options) error {
	streams := topology.Streams{Prefix: unique("lat"), Partitions: o.partitions}
	defer deleteStreams(url, streams)
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := streams.Declare(ch); err != nil {
		return err
	}
	ch.Close()
	prefix := unique("lat")
	defer deleteKeys(rdb, keyspace.New(prefix).Base())
	var mu sync.Mutex
	var lat []time.Duration
	stop, err := startWorkers(ctx, ropt, url, streams, prefix, o.latencyWorker, o, func(_ int, stamps []int64, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range stamps {
			lat = append(lat, at.Sub(time.UnixMicro(s)))
		}
	})
	if err != nil {
		return err
	}
	defer stop()
	time.Sleep(3 * time.Second) // let the workers settle on their partitions
	rows := int64(o.latencyRate * o.latencyFor.Seconds())
	// Small messages: at a fixed rate a producer publishes what it has.
	batch := max(1, int(o.latencyRate/float64(o.partitions)/20)) // ~20 messages/s per partition
	res, err := feed.Publish(ctx, conn, streams, feed.Options{DataPath: o.data, To: rows, Batch: batch, Producer: "lat", Rate: o.latencyRate, Stamp: true})
	if err != nil {
		return err
	}
	var msgs int64
	for _, n := range res.Messages {
		msgs += n
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := int64(len(lat))
		mu.Unlock()
		if n >= msgs || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	fmt.Printf("latency: %d workers, %.0f events/s for %v (%d messages of ~%d events), flush interval %v\n",
		o.latencyWorker, o.latencyRate, o.latencyFor, msgs, batch, o.flush)
	fmt.Printf("| p50 | p99 | max | bound (flush interval + 100 ms) |\n|---|---|---|---|\n| %v | %v | %v | %v |\n",
		q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), o.flush+100*time.Millisecond)
	if int64(len(lat)) != msgs {
		return fmt.Errorf("only %d of %d messages were seen committed", len(lat), msgs)
	}
	return nil
}

// redisCPU is the Redis server's CPU time so far, in seconds (INFO cpu).
func redisCPU(ctx context.Context, rdb redis.UniversalClient) float64 {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// selfCPU is this process's CPU time so far, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
