package speed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/clock"
	"github.com/tributary-dev/tributary/internal/membership"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/metrics"
	"github.com/tributary-dev/tributary/speed/store"
)

// Config configures one worker.
type Config struct {
	Redis redis.UniversalClient
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
	// event may be and still count (default 1h). An event that fills a gap
	// in its producer's seqs (republished after a broker failure) counts
	// however far behind it is (package agg).
	AllowedLateness time.Duration
	// MaxFuture is how far ahead of a partition's watermark (its newest
	// accepted event time) an event may be; one further ahead is quarantined
	// (reason "future: ..."), so that one stray event cannot move the
	// watermark and make every later real event late (default
	// DefaultMaxFuture; negative: no bound).
	MaxFuture time.Duration
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
	// Clock drives the worker's rounds and the partitions' flushes (default
	// the system clock); tests advance a manual one.
	Clock clock.Clock
	// Covered, when set, says up to which hour (to, exclusive) the batch
	// layer covers the views, and the grace after which their speed keys
	// may go (the process wiring passes batch/reconcile.Covered: its last
	// reconciliation); to is 0 when it covers nothing. The coverage duty
	// gives the keys of those hours, in the partitions this worker holds,
	// that TTL. Nil: speed keys are never expired that way.
	Covered func(context.Context) (to int64, grace time.Duration, err error)
	// CoverageInterval is how often the coverage duty looks (default 5s).
	CoverageInterval time.Duration
}

// DefaultMaxFuture is the default of Config.MaxFuture. The replayer
// publishes each partition in event-time order, so a real event is ahead of
// the watermark by the gap since the previous event of its partition: with
// the default 8 partitions each holds some 2,000 flights a day of the 2001
// data, so the gap is minutes by day and the night's pause at most (a few
// hours; an estimate, not measured per partition). 6 h
// keeps clear of that and of producers whose clocks or batches run ahead,
// while a stray (a typo of a year, a day, a month) is many hours ahead. It is
// also well above the allowed lateness (1 h): an event accepted at the bound
// leaves the events within 5 h behind it late, not the whole partition.
const DefaultMaxFuture = 6 * time.Hour

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
	def(&c.CoverageInterval, 5*time.Second)
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
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
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	return nil
}

// worker runs one round of its duties every LeaseTTL/5, in this order:
// heartbeat (am I live, who else is), assignment (which partitions are mine),
// renewal (keep the leases I hold, drop the lost), hand-over (give up what is
// no longer mine), acquisition (take what is newly mine), lag and coverage
// (expire the keys of hours the batch layer covers). Each duty
// is its own type, in its own file, tested on its own; this loop only
// sequences them and owns the map of running partitions.
type worker struct {
	cfg   Config
	keys  keyspace.Keys
	views []flight.View
	owned runs
	log   *slog.Logger

	members    *membership.Members
	heartbeat  heartbeat
	assignment assignment
	renewal    renewal
	handover   handover
	acquire    acquisition
	lag        lagMeter
	coverage   coverage
	writer     *store.Writer
}

// Run runs a worker until ctx is done, then flushes and hands over every
// partition it owns and leaves the membership.
func Run(ctx context.Context, cfg Config) error {
	w, err := newWorker(cfg)
	if err != nil {
		return err
	}
	defer w.lag.close()
	if err := w.declare(); err != nil {
		return err
	}
	w.log.Info("speed worker started", "partitions", w.cfg.Streams.Partitions, "flush_interval", w.cfg.FlushInterval, "lease_ttl", w.cfg.LeaseTTL)
	tick := w.cfg.Clock.NewTicker(w.cfg.LeaseTTL / 5)
	defer tick.Stop()
	for {
		w.round(ctx)
		select {
		case <-ctx.Done():
			return w.shutdown()
		case <-tick.C():
		}
	}
}

func newWorker(cfg Config) (*worker, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	keys := keyspace.New(cfg.KeyPrefix)
	ms, err := membership.New(cfg.Redis, keys.Members(), cfg.WorkerID, cfg.LeaseTTL)
	if err != nil {
		return nil, err
	}
	views := flight.Views()
	log := cfg.Log.With("worker", cfg.WorkerID)
	w := &worker{
		cfg: cfg, keys: keys, views: views, owned: runs{}, log: log, members: ms,
		heartbeat:  heartbeat{members: ms, log: log},
		assignment: assignment{self: cfg.WorkerID, partitions: cfg.Streams.Partitions, m: cfg.Metrics, log: log},
		renewal:    renewal{rdb: cfg.Redis, ttl: cfg.LeaseTTL, m: cfg.Metrics, log: log},
		handover:   handover{log: log},
		lag:        lagMeter{conn: cfg.AMQP, streams: cfg.Streams, m: cfg.Metrics},
		writer:     store.NewWriter(cfg.Redis, keys, views, cfg.BucketTTL),
	}
	w.coverage = coverage{rdb: cfg.Redis, keys: keys, expirer: store.NewExpirer(cfg.Redis, cfg.KeyPrefix),
		covered: cfg.Covered, every: cfg.CoverageInterval, budget: cfg.LeaseTTL / 5, clock: cfg.Clock, m: cfg.Metrics, log: log}
	w.acquire = acquisition{rdb: cfg.Redis, keys: keys, self: cfg.WorkerID, ttl: cfg.LeaseTTL, log: log, start: w.start}
	return w, nil
}

// declare declares the streams on the lag meter's channel.
func (w *worker) declare() error {
	ch, err := w.cfg.AMQP.Channel()
	if err != nil {
		return fmt.Errorf("speed: channel: %w", err)
	}
	w.lag.ch = ch
	return w.cfg.Streams.Declare(ch)
}

// round is one pass over the duties; a failed heartbeat or renewal ends it
// early (the next round retries).
func (w *worker) round(ctx context.Context) {
	w.reap()
	defer func() { w.cfg.Metrics.Owned.Set(float64(len(w.owned))) }()
	members, ok := w.heartbeat.step(ctx)
	if !ok {
		return
	}
	want := w.assignment.step(members)
	if !w.renewal.step(ctx, w.owned) {
		return
	}
	w.handover.step(w.owned, want)
	w.acquire.step(ctx, w.owned, want)
	w.lag.step(w.owned)
	w.coverage.step(ctx, w.owned)
}

// reap forgets the partitions whose goroutine ended.
func (w *worker) reap() {
	for p, r := range w.owned {
		if r.finished() {
			delete(w.owned, p)
			w.lag.forget(p)
		}
	}
}

// start runs a newly acquired partition in its own goroutine.
func (w *worker) start(ctx context.Context, r *run) {
	pt := &partition{cfg: &w.cfg, keys: w.keys, views: w.views, writer: w.writer, r: r,
		log: w.log.With("partition", r.part, "token", r.grant.Token)}
	go func() {
		defer close(r.done)
		if err := pt.run(ctx); err != nil && ctx.Err() == nil {
			pt.log.Warn("partition stopped", "err", err)
		}
	}()
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
	w.cfg.Metrics.Owned.Set(0)
	w.log.Info("speed worker stopped")
	return err
}
