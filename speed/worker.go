package speed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/membership"
	"github.com/tributary-dev/tributary/speed/metrics"
	"github.com/tributary-dev/tributary/speed/store"
)

// Config configures one worker.
type Config struct {
	Redis *redis.Client
	// AMQP is the worker's connection; Run does not close it.
	AMQP      *amqp.Connection
	Streams   topology.Streams
	KeyPrefix string
	// WorkerID must be unique among live workers (default hostname-pid).
	WorkerID string
	// FlushInterval is how often each partition flushes (default 500ms).
	FlushInterval time.Duration
	// LeaseTTL is the lease and membership TTL (default 5s): a dead worker's
	// partitions move after about that long. Heartbeats run every TTL/5.
	LeaseTTL time.Duration
	// AllowedLateness is how far behind a partition's highest event time an
	// event may be and still count (default 1h).
	AllowedLateness time.Duration
	// Prefetch bounds the unacknowledged deliveries per partition (default 200).
	Prefetch int
	// BucketTTL, when > 0, expires view keys that long after their last write.
	BucketTTL time.Duration
	// MaxPendingBuckets makes a partition flush before FlushInterval when it
	// holds that many bucket deltas, bounding the script's run time (default 4096).
	MaxPendingBuckets int
	// MaxQuarantineBody bounds the bytes of a body kept in the quarantine (default 4096).
	MaxQuarantineBody int
	Log               *slog.Logger
	Metrics           *metrics.Metrics
	// OnCommit, when set, is called after every successful flush with the
	// publish times (µs, from stream.PublishedAtHeader) of the flushed messages
	// that carried one, and the commit time. Benchmarks use it.
	OnCommit func(partition int, publishedAt []int64, committed time.Time)
}

func (c *Config) setDefaults() error {
	if c.Redis == nil || c.AMQP == nil {
		return errors.New("speed: Redis and AMQP are required")
	}
	if err := c.Streams.Validate(); err != nil {
		return err
	}
	if c.KeyPrefix == "" {
		return errors.New("speed: key prefix must not be empty")
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = host + "-" + strconv.Itoa(os.Getpid())
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.FlushInterval, 500*time.Millisecond)
	def(&c.LeaseTTL, 5*time.Second)
	def(&c.AllowedLateness, time.Hour)
	if c.Prefetch <= 0 {
		c.Prefetch = 200
	}
	if c.MaxPendingBuckets <= 0 {
		c.MaxPendingBuckets = 4096
	}
	if c.MaxQuarantineBody <= 0 {
		c.MaxQuarantineBody = 4096
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New(nil)
	}
	return nil
}

// run is one owned partition's goroutine.
type run struct {
	part     int
	lease    lease.Grant
	stop     chan struct{} // hand over: last flush, release
	abort    chan struct{} // lease lost: drop everything
	stopOnce sync.Once
	abrtOnce sync.Once
	done     chan struct{}
	consumed atomic.Int64 // last offset taken in, for the lag
	stopping bool
}

func (r *run) handOver() { r.stopOnce.Do(func() { close(r.stop) }) }
func (r *run) drop()     { r.abrtOnce.Do(func() { close(r.abort) }) }

type worker struct {
	cfg     Config
	keys    keyspace.Keys
	views   []flight.View
	members *membership.Members
	writer  *store.Writer
	log     *slog.Logger
	m       *metrics.Metrics
	owned   map[int]*run
	want    []int
	lagCh   *amqp.Channel
}

// Run runs a worker until ctx is done, then flushes and hands over every
// partition it owns and leaves the membership.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	keys := keyspace.New(cfg.KeyPrefix)
	lm, err := membership.New(cfg.Redis, keys.Members(), cfg.WorkerID, cfg.LeaseTTL)
	if err != nil {
		return err
	}
	ch, err := cfg.AMQP.Channel()
	if err != nil {
		return fmt.Errorf("speed: channel: %w", err)
	}
	if err := cfg.Streams.Declare(ch); err != nil {
		ch.Close()
		return err
	}
	views := flight.Views()
	w := &worker{
		cfg: cfg, keys: keys, views: views, members: lm,
		writer: store.NewWriter(cfg.Redis, keys, views, cfg.BucketTTL),
		log:    cfg.Log.With("worker", cfg.WorkerID), m: cfg.Metrics,
		owned: map[int]*run{}, lagCh: ch,
	}
	w.log.Info("speed worker started", "partitions", cfg.Streams.Partitions, "flush_interval", cfg.FlushInterval, "lease_ttl", cfg.LeaseTTL)
	every := cfg.LeaseTTL / 5
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		w.tick(ctx)
		select {
		case <-ctx.Done():
			return w.shutdown()
		case <-tick.C:
		}
	}
}

// tick is one round of membership, assignment, lease renewal, hand-over,
// acquisition and lag measurement.
func (w *worker) tick(ctx context.Context) {
	for p, r := range w.owned {
		select {
		case <-r.done:
			delete(w.owned, p)
			w.m.Lag.DeleteLabelValues(strconv.Itoa(p))
		default:
		}
	}
	defer func() { w.m.Owned.Set(float64(len(w.owned))) }()
	members, err := w.members.Heartbeat(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("heartbeat failed", "err", err)
		}
		return
	}
	assign := membership.Assign(members, w.cfg.Streams.Partitions)
	var want []int
	for p, m := range assign {
		if m == w.cfg.WorkerID {
			want = append(want, p)
		}
	}
	if !slices.Equal(want, w.want) {
		w.m.Rebalances.Inc()
		w.log.Info("assignment changed", "members", len(members), "partitions", want)
		w.want = want
	}
	// Renew what we hold; a lease found lost is dropped without a flush.
	var held []*run
	for _, r := range w.owned {
		if !r.stopping { // a partition being handed over releases its lease itself
			held = append(held, r)
		}
	}
	if len(held) > 0 {
		ls := make([]lease.Grant, len(held))
		for i, r := range held {
			ls[i] = r.lease
		}
		ok, err := lease.Renew(ctx, w.cfg.Redis, ls, w.cfg.LeaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("lease renewal failed", "err", err)
			}
			return
		}
		for i, r := range held {
			if !ok[i] {
				w.m.LeasesLost.Inc()
				w.log.Warn("lease lost: dropping the partition's pending deltas", "partition", r.part, "token", r.lease.Token)
				r.drop()
			}
		}
	}
	wanted := map[int]bool{}
	for _, p := range want {
		wanted[p] = true
	}
	for p, r := range w.owned {
		if !wanted[p] && !r.stopping {
			r.stopping = true
			w.log.Info("handing partition over", "partition", p)
			r.handOver()
		}
	}
	for _, p := range want {
		if _, ok := w.owned[p]; ok {
			continue
		}
		l, err := lease.Acquire(ctx, w.cfg.Redis, w.keys.Lease(p), w.keys.Fence(p), w.cfg.WorkerID, w.cfg.LeaseTTL)
		if errors.Is(err, lease.ErrHeld) {
			continue // its previous owner is still handing it over, or is dead and its lease not yet expired
		}
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("acquire failed", "partition", p, "err", err)
			}
			continue
		}
		r := &run{part: p, lease: l, stop: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{})}
		r.consumed.Store(-1)
		w.owned[p] = r
		w.log.Info("partition acquired", "partition", p, "token", l.Token)
		go func() {
			defer close(r.done)
			if err := w.runPartition(ctx, r); err != nil && ctx.Err() == nil {
				w.log.Warn("partition stopped", "partition", p, "err", err)
			}
		}()
	}
	w.measureLag()
}

// measureLag sets the lag gauge of every owned partition: the stream's end
// (message count, see stream.End) minus the next offset to consume.
func (w *worker) measureLag() {
	for p, r := range w.owned {
		if w.lagCh == nil || w.lagCh.IsClosed() {
			ch, err := w.cfg.AMQP.Channel()
			if err != nil {
				return
			}
			w.lagCh = ch
		}
		end, err := stream.End(w.lagCh, w.cfg.Streams.Queue(p))
		if err != nil {
			continue
		}
		w.m.Lag.WithLabelValues(strconv.Itoa(p)).Set(float64(max(0, end-(r.consumed.Load()+1))))
	}
}

func (w *worker) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Leave first: the others reassign at once and take each partition as
	// soon as its last flush here released it.
	err := w.members.Leave(ctx)
	for p, r := range w.owned {
		w.log.Info("handing partition over", "partition", p)
		r.handOver()
	}
	for _, r := range w.owned {
		<-r.done
	}
	if w.lagCh != nil {
		w.lagCh.Close()
	}
	w.m.Owned.Set(0)
	w.log.Info("speed worker stopped")
	return err
}

// errLeaseLost ends a partition whose lease renewal failed.
var errLeaseLost = errors.New("lease lost")

// runPartition consumes, aggregates and flushes one partition until it is
// handed over, dropped, or fails. Every return path either committed the
// deltas or leaves them to the next owner, who resumes from the committed offset.
func (w *worker) runPartition(ctx context.Context, r *run) error {
	p := r.part
	log := w.log.With("partition", p, "token", r.lease.Token)
	progress, err := store.Load(ctx, w.cfg.Redis, w.keys, p)
	if err != nil {
		return err
	}
	a := agg.New(w.views, int64(w.cfg.AllowedLateness/time.Microsecond), progress)
	r.consumed.Store(progress.Offset)
	cons, err := stream.Open(ctx, w.cfg.AMQP, w.cfg.Streams.Queue(p), progress.Offset, w.cfg.Prefetch, w.cfg.WorkerID+"."+strconv.Itoa(p))
	if err != nil {
		return err
	}
	defer func() {
		if err := cons.Close(); err != nil {
			log.Warn("closing the stream consumer", "err", err)
		}
	}()
	log.Debug("consuming", "after_offset", progress.Offset)

	var stamps []int64
	var events []flight.Event
	flush := func(ctx context.Context) error {
		if !a.Dirty() {
			return nil
		}
		pd := a.Pending()
		start := time.Now()
		err := w.writer.Flush(ctx, &store.Flush{Partition: p, Lease: r.lease.Value(), Token: r.lease.Token, LeaseTTL: w.cfg.LeaseTTL, Pending: pd})
		w.m.Flush.Observe(time.Since(start).Seconds())
		if errors.Is(err, store.ErrRefused) {
			w.m.Refused.Inc()
			log.Warn("flush refused: this worker no longer owns the partition; dropping its pending deltas", "err", err)
			return err
		}
		if err != nil {
			w.m.FlushErrors.Inc()
			return err
		}
		now := time.Now()
		a.Committed()
		c := pd.Counters
		w.m.Applied.Add(float64(c.Applied))
		w.m.Late.Add(float64(c.Late))
		w.m.Duplicates.Add(float64(c.Duplicates))
		w.m.Quarantined.Add(float64(c.Quarantined))
		for _, s := range stamps {
			w.m.Latency.Observe(now.Sub(time.UnixMicro(s)).Seconds())
		}
		if w.cfg.OnCommit != nil {
			w.cfg.OnCommit(p, stamps, now)
		}
		stamps = stamps[:0]
		return nil
	}
	// finalFlush runs when the partition is handed over or the worker stops:
	// ctx may be done already, so it gets its own deadline.
	finalFlush := func() error {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := flush(fctx); err != nil {
			return err
		}
		return lease.Release(fctx, w.cfg.Redis, r.lease)
	}
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case d, ok := <-cons.Deliveries():
			if !ok {
				_ = finalFlush()
				return errors.New("stream consumer closed by the broker")
			}
			off, err := stream.Offset(&d)
			if err != nil {
				return fmt.Errorf("partition %d: %w", p, err)
			}
			if off > a.Offset() { // never apply an offset twice (chunk re-delivery)
				events, err = wire.Decode(events[:0], d.ContentType, d.Body)
				switch {
				case errors.Is(err, wire.ErrMalformed):
					a.Malformed(off, err.Error(), d.Body, w.cfg.MaxQuarantineBody)
					log.Warn("message quarantined", "offset", off, "reason", err)
				case err != nil:
					return fmt.Errorf("partition %d offset %d: %w", p, off, err)
				default:
					a.Message(off, events)
					if s := stream.PublishedAt(&d); s > 0 {
						stamps = append(stamps, s)
					}
				}
				r.consumed.Store(off)
			}
			if err := cons.Ack(d.DeliveryTag); err != nil {
				return err
			}
			if a.PendingBuckets() >= w.cfg.MaxPendingBuckets {
				if err := flush(ctx); err != nil {
					return err
				}
			}
		case <-ticker.C:
			if err := flush(ctx); err != nil {
				return err
			}
		case <-r.abort:
			return errLeaseLost
		case <-r.stop:
			return finalFlush()
		case <-ctx.Done():
			return finalFlush()
		}
	}
}
