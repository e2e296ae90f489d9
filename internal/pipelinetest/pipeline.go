package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/segstore"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/ingest/replay"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/speed"
	"github.com/tributary-dev/tributary/speed/store"
	"github.com/tributary-dev/tributary/workers"
)

// Pipeline is one test's streams, keys, segment store and running roles.
type Pipeline struct {
	t        testing.TB
	Redis    redis.UniversalClient
	Streams  topology.Streams
	Prefix   string
	StoreDir string
	Data     string
	Sched    *scheduler.Scheduler
	Log      *slog.Logger
	// MaxFuture is the speed workers' bound on events ahead of their
	// partition's watermark (0: speed's default; negative: no bound, so that
	// a test can put a stray future event into the speed views).
	MaxFuture time.Duration
}

// quiet returns a logger quiet unless TRIBUTARY_TEST_LOG is set.
func quiet() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// New declares the test's streams; everything is deleted when the test ends.
func New(t testing.TB) *Pipeline {
	t.Helper()
	prefix := testenv.Prefix(t)
	p := &Pipeline{t: t, Redis: testenv.Redis(t), Prefix: prefix, StoreDir: t.TempDir(),
		Streams: topology.Streams{Prefix: prefix, Partitions: topology.DefaultPartitions},
		Data:    testenv.DataFile(t, "flights-3m.parquet"), Log: quiet()}
	ch, err := testenv.AMQP(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Streams.Declare(ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if conn, err := amqp.Dial(testenv.AMQPURL(t)); err == nil {
			if ch, err := conn.Channel(); err == nil {
				_ = p.Streams.Delete(ch)
			}
			conn.Close()
		}
		Cleanup(p.Redis, prefix)
	})
	return p
}

// Cleanup deletes a prefix's keys and asynq queues: the services are shared.
func Cleanup(rdb redis.UniversalClient, prefix string, extraQueues ...string) {
	queues := append(taskq.DefaultQueues(prefix).All(), prefix+".control")
	taskq.DeleteQueues(context.Background(), rdb, append(queues, extraQueues...))
	testenv.DeleteKeys(rdb, prefix+":*")
}

// background runs fn until the test ends or stop is called.
func (p *Pipeline) background(what string, fn func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.t.Errorf("%s: %v", what, err)
		}
	}()
	stop = func() { cancel(); <-done }
	p.t.Cleanup(stop)
	return stop
}

// StartSpeed runs n speed workers.
func (p *Pipeline) StartSpeed(n int) {
	for i := range n {
		conn := testenv.AMQP(p.t)
		p.background("speed", func(ctx context.Context) error {
			return speed.Run(ctx, speed.Config{Redis: p.Redis, AMQP: conn, Streams: p.Streams, KeyPrefix: p.Prefix,
				WorkerID: fmt.Sprintf("%s-speed-%d", p.Prefix, i), FlushInterval: 200 * time.Millisecond, LeaseTTL: 3 * time.Second, Log: p.Log,
				MaxFuture: p.MaxFuture, Covered: reconcile.Covered(p.Redis, p.Prefix), CoverageInterval: time.Second})
		})
	}
}

// StartArchiver runs the archiver, cutting segments of segmentEvents, until
// the test ends or stop is called.
func (p *Pipeline) StartArchiver(segmentEvents int) (stop func()) {
	st, err := segstore.Open(context.Background(), p.StoreDir)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.background("archive", func(ctx context.Context) error {
		return archive.Run(ctx, archive.Config{Redis: p.Redis, AMQPURL: testenv.AMQPURL(p.t), Streams: p.Streams, KeyPrefix: p.Prefix,
			Store: st, StoreURL: p.StoreDir, SegmentEvents: segmentEvents, SegmentInterval: 300 * time.Millisecond, Log: p.Log})
	})
}

// StartBatch runs a scheduler and two batch workers.
func (p *Pipeline) StartBatch() {
	for i := range 2 {
		reg, err := workers.NewRegistry(recompute.Register(p.Redis, p.Log, func(prefix string) reconcile.SpeedReader {
			return store.NewReader(p.Redis, prefix, p.Streams.Partitions)
		}))
		if err != nil {
			p.t.Fatal(err)
		}
		w, err := workers.New(workers.Config{Redis: p.Redis, KeyPrefix: p.Prefix, Concurrency: 2, ID: fmt.Sprintf("%s-w%d", p.Prefix, i), Log: p.Log}, reg)
		if err != nil {
			p.t.Fatal(err)
		}
		p.background("worker", w.Run)
	}
	sch, err := scheduler.New(scheduler.Config{Redis: p.Redis, KeyPrefix: p.Prefix, Log: p.Log, Defaults: scheduler.Defaults{MaxRetries: 2}})
	if err != nil {
		p.t.Fatal(err)
	}
	p.Sched = sch
	p.background("scheduler", sch.Run)
	WaitFor(p.t, time.Minute, "batch workers advertised", func() bool {
		fns, err := sch.Functions(context.Background())
		return err == nil && fns[recompute.FuncPartial] == 2
	})
}

// Replay replays rows [0, limit) with the real replayer, as fast as the broker takes them.
func (p *Pipeline) Replay(limit int64) replay.Result {
	res, err := replay.Run(context.Background(), replay.Config{DataPath: p.Data, Streams: p.Streams, AMQPURL: testenv.AMQPURL(p.t),
		Redis: p.Redis, KeyPrefix: p.Prefix, Limit: limit, Log: p.Log})
	if err != nil {
		p.t.Fatalf("replay: %v", err)
	}
	return res
}

// WaitSpeed waits until the speed layer accounted for n events.
func (p *Pipeline) WaitSpeed(n int64) {
	r := store.NewReader(p.Redis, p.Prefix, p.Streams.Partitions)
	WaitFor(p.t, 3*time.Minute, fmt.Sprintf("the speed layer applied %d events", n), func() bool {
		var seen int64
		for part := range p.Streams.Partitions {
			st, err := r.Partition(context.Background(), part)
			if err != nil {
				return false
			}
			seen += st.Applied + st.Late + st.Duplicates
		}
		return seen == n
	})
}

// WaitArchived waits until the archive committed n events.
func (p *Pipeline) WaitArchived(n int64) {
	WaitFor(p.t, 3*time.Minute, fmt.Sprintf("%d events archived", n), func() bool {
		st, err := archive.ReadState(context.Background(), p.Redis, p.Prefix)
		if err != nil {
			return false
		}
		var got int64
		for _, part := range st.Partitions {
			got += part.Events
		}
		return got == n
	})
}

// Recompute runs a batch recompute and returns the published version.
func (p *Pipeline) Recompute() view.Manifest {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, _, err := recompute.Run(ctx, p.Sched, p.Redis, recompute.Options{KeyPrefix: p.Prefix, FanIn: 4, Grace: time.Minute}, nil); err != nil {
		p.t.Fatalf("recompute: %v", err)
	}
	m, err := view.Current(ctx, p.Redis, p.Prefix)
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// WaitFor polls cond every 100 ms until it holds or within passes.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
