package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// Layouts this harness reads, as docs/architecture.md and the speed layer's
// keyspace document them (the harness imports no Tributary package): a
// partition's stream is "<stream prefix>.<p>"; its committed progress is
// the hash "<key prefix>:speed:{<p>}:part", whose field "offset" is the
// stream offset of the last message a committed flush applied, written in
// the same script as that flush's buckets; tools/evalfeed stamps every
// message with its publish time in µs (header x-published-at-us).
const (
	publishedAtHeader = "x-published-at-us"
	latencyPoll       = 5 * time.Millisecond
)

// latency measures event-to-view latency at a fixed input rate (issue 12,
// item 4) on processes of its own: `tributary speed` ×SpeedWorkers at their
// default flags on streams and keys under another prefix (so that no event
// of the replay's is late or doubled), and tools/evalfeed, a separate
// process, publishing LatencyRows flights at LatencyRate events/s stamped
// with their publish time. The bench reads every partition's committed
// offset in Redis every 5 ms, then reads the streams back: a message is in
// the view from the first read that finds its partition's committed offset
// at or past its own. That is the time a query could first see it,
// measured outside the workers (their tributary_speed_event_to_view_seconds
// histogram says the same from inside); it overstates by at most the 5 ms
// of the reads.
func (b *bench) latency(ctx context.Context) error {
	lat := b.id + "-lat"
	env := []string{"TRIBUTARY_KEY_PREFIX=" + lat, "TRIBUTARY_STREAM_PREFIX=" + lat + ".flights"}
	b.ps.setEnv("lat-", env)
	defer b.latencyCleanup(lat)
	if _, err := b.ps.run("lat-streams-declare", time.Minute, b.c.Bin, "streams", "declare"); err != nil {
		return err
	}
	if err := b.startSpeedWorkers("lat-", lat, 30); err != nil {
		return err
	}
	if err := b.waitBalanced(ctx, 30); err != nil {
		return err
	}
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	pl := &offsetPoll{rdb: b.rdb, keys: make([]string, b.c.Partitions), seen: make([][]offsetAt, b.c.Partitions)}
	for p := range pl.keys {
		pl.keys[p] = lat + ":speed:{" + strconv.Itoa(p) + "}:part"
	}
	pollDone := make(chan error, 1)
	go func() { pollDone <- pl.run(pollCtx) }()

	b.logf("latency: tools/evalfeed, %d flights at %d events/s", b.c.LatencyRows, b.c.LatencyRate)
	res, err := b.ps.run("lat-evalfeed", 10*time.Minute, b.c.EvalFeed, "-data", b.c.Data, "-from", "0",
		"-to", strconv.FormatInt(b.c.LatencyRows, 10), "-rate", strconv.Itoa(b.c.LatencyRate), "-producer", lat)
	if err != nil {
		return err
	}
	var feed map[string]any
	if err := json.Unmarshal(lastLine(res.stdout), &feed); err != nil {
		return fmt.Errorf("evalfeed output %q: %w", res.stdout, err)
	}
	msgs, err := b.readStamps(ctx, lat+".flights", int64(feed["messages"].(float64)))
	if err != nil {
		return err
	}
	// Every message's partition must have committed it before the reads stop.
	last := make([]int64, b.c.Partitions)
	for p := range last {
		last[p] = -1
	}
	for _, m := range msgs {
		last[m.part] = max(last[m.part], m.offset)
	}
	err = waitFor(ctx, "the latency run's offsets committed", 2*time.Minute, 50*time.Millisecond, b.ps.alive, func() (bool, error) {
		for p, o := range last {
			if o >= 0 && pl.committed(p) < o {
				return false, nil
			}
		}
		return true, nil
	})
	stopPoll()
	if perr := <-pollDone; perr != nil && !errors.Is(perr, context.Canceled) {
		return fmt.Errorf("polling the committed offsets: %w", perr)
	}
	if err != nil {
		return err
	}
	ms, err := pl.latencies(msgs)
	if err != nil {
		return err
	}
	flush := 500 * time.Millisecond
	if b.c.Flush != "" {
		if flush, err = time.ParseDuration(b.c.Flush); err != nil {
			return err
		}
	}
	out := latencySummary(ms, flush)
	out["rate"] = b.c.LatencyRate
	out["rows"] = b.c.LatencyRows
	out["feed"] = feed
	out["poll_ms"] = latencyPoll.Milliseconds()
	workers, err := b.speedMetrics(ctx, 30)
	if err != nil {
		return err
	}
	out["workers"] = workers
	// Latencies of events the views did not take (late, quarantined) would
	// measure something else.
	if int64(workers["applied"]) != b.c.LatencyRows {
		return fmt.Errorf("the latency run's workers applied %d events, evalfeed published %d", int64(workers["applied"]), b.c.LatencyRows)
	}
	b.logf("latency: %d messages, event to view p50 %.0f ms, p99 %.0f ms, max %.0f ms (bound: flush interval + 100 ms = %d ms)",
		len(ms), out["p50_ms"], out["p99_ms"], out["max_ms"], out["bound_ms"])
	b.res["latency"] = out
	b.stopSpeedWorkers("lat-")
	return nil
}

// waitBalanced waits until the speed workers on ports base+1.. own every
// partition between them, each its share: the first one up takes them all,
// then hands some over as the others join.
func (b *bench) waitBalanced(ctx context.Context, base int) error {
	return waitFor(ctx, "speed workers sharing every partition", 2*time.Minute, 200*time.Millisecond, b.ps.alive, func() (bool, error) {
		total, balanced := 0, true
		for i := 1; i <= b.c.SpeedWorkers; i++ {
			txt, err := getText(ctx, "http://"+b.port(base+i)+"/metrics")
			if err != nil {
				return false, err
			}
			n, _ := metricSum(txt, "tributary_speed_partitions_owned")
			total += int(n)
			balanced = balanced && int(n) >= b.c.Partitions/b.c.SpeedWorkers
		}
		return total == b.c.Partitions && balanced, nil
	})
}

// latencyCleanup deletes the latency run's streams and keys (the run's
// cleanup covers the others).
func (b *bench) latencyCleanup(prefix string) {
	if b.c.Keep {
		return
	}
	b.stopSpeedWorkers("lat-")
	_, _ = b.ps.run("lat-streams-delete", time.Minute, b.c.Bin, "streams", "delete")
	b.unlinkMatching(context.Background(), prefix+":*")
}

// stamped is one message of the latency run: its partition, stream offset
// and publish time (µs).
type stamped struct {
	part   int
	offset int64
	at     int64
}

// readStamps reads every partition's stream from its start until want
// messages in all, and returns each one's offset and publish time.
func (b *bench) readStamps(ctx context.Context, prefix string, want int64) ([]stamped, error) {
	conn, err := amqp.Dial(os.Getenv("TRIBUTARY_AMQP_URL"))
	if err != nil {
		return nil, fmt.Errorf("read the latency streams back: %w", err)
	}
	defer conn.Close()
	var (
		mu   sync.Mutex
		out  []stamped
		wg   sync.WaitGroup
		read atomic.Int64
	)
	errs := make([]error, b.c.Partitions)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for p := 0; p < b.c.Partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs, err := readStream(rctx, conn, prefix+"."+strconv.Itoa(p), p, &read, want)
			mu.Lock()
			out = append(out, msgs...)
			mu.Unlock()
			errs[p] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if int64(len(out)) != want {
		return nil, fmt.Errorf("read %d messages back from the latency streams, evalfeed published %d", len(out), want)
	}
	return out, nil
}

// readStream consumes one stream from its first offset, counting the
// messages of every stream in read, until no message came for a second
// once read reaches want (or for 10 s otherwise).
func readStream(ctx context.Context, conn *amqp.Connection, queue string, part int, read *atomic.Int64, want int64) ([]stamped, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	if err := ch.Qos(2000, 0, false); err != nil {
		return nil, err
	}
	ds, err := ch.ConsumeWithContext(ctx, queue, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", queue, err)
	}
	var out []stamped
	idle := time.NewTimer(10 * time.Second)
	defer idle.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	quiet := 0
	for {
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("read %s back: %w", queue, ctx.Err())
		case <-idle.C:
			return out, nil
		case <-tick.C:
			if quiet++; quiet >= 2 && read.Load() >= want {
				return out, nil
			}
		case d, ok := <-ds:
			if !ok {
				return out, fmt.Errorf("read %s back: the channel closed", queue)
			}
			quiet = 0
			off, ok1 := intHeader(d.Headers, "x-stream-offset")
			at, ok2 := intHeader(d.Headers, publishedAtHeader)
			if !ok1 || !ok2 {
				return out, fmt.Errorf("%s: a message without x-stream-offset or %s", queue, publishedAtHeader)
			}
			out = append(out, stamped{part: part, offset: off, at: at})
			read.Add(1)
			if d.DeliveryTag%500 == 0 {
				_ = d.Ack(true)
			}
			idle.Reset(10 * time.Second)
		}
	}
}

func intHeader(h amqp.Table, name string) (int64, bool) {
	switch v := h[name].(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int:
		return int64(v), true
	}
	return 0, false
}

// offsetAt is a partition's committed offset as first read at a time.
type offsetAt struct {
	at     time.Time
	offset int64
}

// offsetPoll reads every partition's committed offset every latencyPoll and
// keeps each change.
type offsetPoll struct {
	rdb  *redis.Client
	keys []string
	mu   sync.Mutex
	seen [][]offsetAt
}

func (pl *offsetPoll) run(ctx context.Context) error {
	t := time.NewTicker(latencyPoll)
	defer t.Stop()
	cmds := make([]*redis.StringCmd, len(pl.keys))
	for {
		pipe := pl.rdb.Pipeline()
		for p, k := range pl.keys {
			cmds[p] = pipe.HGet(ctx, k, "offset")
		}
		_, err := pipe.Exec(ctx)
		now := time.Now()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		pl.mu.Lock()
		for p, c := range cmds {
			o, err := c.Int64()
			if err != nil {
				continue // no flush committed yet
			}
			if s := pl.seen[p]; len(s) == 0 || s[len(s)-1].offset != o {
				pl.seen[p] = append(s, offsetAt{at: now, offset: o})
			}
		}
		pl.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// committed is partition p's last committed offset read, -1 if none.
func (pl *offsetPoll) committed(p int) int64 {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if s := pl.seen[p]; len(s) > 0 {
		return s[len(s)-1].offset
	}
	return -1
}

// latencies is each message's time from its publication to the first read
// of its partition's committed offset at or past it, in ms.
func (pl *offsetPoll) latencies(msgs []stamped) ([]float64, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	out := make([]float64, 0, len(msgs))
	for _, m := range msgs {
		s := pl.seen[m.part]
		i, _ := slices.BinarySearchFunc(s, m.offset, func(x offsetAt, o int64) int {
			switch {
			case x.offset < o:
				return -1
			case x.offset > o:
				return 1
			}
			return 0
		})
		if i == len(s) {
			return nil, fmt.Errorf("partition %d never committed offset %d", m.part, m.offset)
		}
		out = append(out, float64(s[i].at.Sub(time.UnixMicro(m.at)).Microseconds())/1000)
	}
	return out, nil
}

// latencySummary: nearest-rank percentiles of the latencies (ms), and the
// share within the bound (the flush interval + 100 ms).
func latencySummary(ms []float64, flush time.Duration) map[string]any {
	s := slices.Clone(ms)
	slices.Sort(s)
	bound := float64((flush + 100*time.Millisecond).Milliseconds())
	q := func(p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		return round(s[max(0, int(math.Ceil(p*float64(len(s))))-1)], 1)
	}
	within := 0
	for _, v := range s {
		if v <= bound {
			within++
		}
	}
	out := map[string]any{"messages": len(s), "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": q(1),
		"bound_ms": int64(bound)}
	if len(s) > 0 {
		out["within_bound"] = round(float64(within)/float64(len(s)), 4)
	}
	return out
}
