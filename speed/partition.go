package speed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// errLeaseLost ends a partition whose lease renewal failed.
var errLeaseLost = errors.New("lease lost")

// partition consumes, aggregates and flushes one owned partition until it is
// handed over, dropped, or fails. Every return path either committed the
// deltas or leaves them to the next owner, who resumes from the committed
// offset.
type partition struct {
	cfg    *Config
	keys   keyspace.Keys
	views  []flight.View
	writer *store.Writer
	r      *run
	log    *slog.Logger

	agg    *agg.Partition
	state  *store.State // absolute content of the buckets this owner touched
	cons   *stream.Consumer
	stamps []int64        // publish times of the messages pending a flush
	events []flight.Event // decode space, reused

	refusals refusalLog
}

// run is the partition's loop.
func (pt *partition) run(ctx context.Context) error {
	if err := pt.open(ctx); err != nil {
		return err
	}
	defer func() {
		if err := pt.cons.Close(); err != nil {
			pt.log.Warn("closing the stream consumer", "err", err)
		}
	}()
	ticker := pt.cfg.Clock.NewTicker(pt.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case d, ok := <-pt.cons.Deliveries():
			if !ok {
				_ = pt.finalFlush()
				return errors.New("stream consumer closed by the broker")
			}
			if err := pt.deliver(ctx, &d); err != nil {
				return err
			}
		case <-ticker.C():
			if err := pt.flush(ctx); err != nil {
				return err
			}
		case <-pt.r.abort:
			return errLeaseLost
		case <-pt.r.stop:
			return pt.finalFlush()
		case <-ctx.Done():
			return pt.finalFlush()
		}
	}
}

// open loads the committed progress and starts consuming right after it.
func (pt *partition) open(ctx context.Context) error {
	p := pt.r.part
	progress, err := store.Load(ctx, pt.cfg.Redis, pt.keys, p)
	if err != nil {
		return err
	}
	pt.agg = agg.New(pt.views, int64(pt.cfg.AllowedLateness/time.Microsecond), progress).
		WithChecks(p, pt.cfg.Streams.Partitions, max(pt.cfg.MaxFuture, 0), pt.cfg.MaxQuarantineBody)
	pt.state = store.NewState()
	pt.r.consumed.Store(progress.Offset)
	pt.cons, err = stream.Open(ctx, pt.cfg.AMQP, pt.cfg.Streams.Queue(p), progress.Offset, pt.cfg.Prefetch, pt.cfg.WorkerID+"."+strconv.Itoa(p))
	if err != nil {
		return err
	}
	pt.log.Debug("consuming", "after_offset", progress.Offset)
	return nil
}

// deliver takes in one delivery, acks it, and flushes early when many
// buckets are pending.
func (pt *partition) deliver(ctx context.Context, d *amqp.Delivery) error {
	off, err := stream.Offset(d)
	if err != nil {
		return fmt.Errorf("partition %d: %w", pt.r.part, err)
	}
	if off > pt.agg.Offset() { // never apply an offset twice (chunk re-delivery)
		if err := pt.take(off, d); err != nil {
			return err
		}
		pt.r.consumed.Store(off)
	}
	if err := pt.cons.Ack(d.DeliveryTag); err != nil {
		return err
	}
	if pt.agg.PendingBuckets() >= pt.cfg.MaxPendingBuckets {
		return pt.flush(ctx)
	}
	return nil
}

// take decodes one message into the aggregate, or quarantines it.
func (pt *partition) take(off int64, d *amqp.Delivery) error {
	var err error
	pt.events, err = wire.Decode(pt.events[:0], d.ContentType, d.Body)
	switch {
	case errors.Is(err, wire.ErrMalformed):
		pt.agg.Malformed(off, err.Error(), d.Body, pt.cfg.MaxQuarantineBody)
		pt.log.Warn("message quarantined", "offset", off, "reason", err)
	case err != nil:
		return fmt.Errorf("partition %d offset %d: %w", pt.r.part, off, err)
	default:
		pt.agg.MessageWithClock(off, stream.Clock(d), pt.events)
		if s := stream.PublishedAt(d); s > 0 {
			pt.stamps = append(pt.stamps, s)
		}
	}
	return nil
}

// flush commits the pending deltas, offset and seqs in one fenced script.
func (pt *partition) flush(ctx context.Context) error {
	if !pt.agg.Dirty() {
		return nil
	}
	m := pt.cfg.Metrics
	pd := pt.agg.Pending()
	start := pt.cfg.Clock.Now()
	err := pt.writer.Flush(ctx, &store.Flush{Partition: pt.r.part, Lease: pt.r.grant.Value(), Token: pt.r.grant.Token, LeaseTTL: pt.cfg.LeaseTTL, State: pt.state, Pending: pd})
	m.Flush.Observe(pt.cfg.Clock.Now().Sub(start).Seconds())
	if errors.Is(err, store.ErrRefused) {
		m.Refused.Inc()
		pt.log.Warn("flush refused: this worker no longer owns the partition; dropping its pending deltas", "err", err)
		return err
	}
	if err != nil {
		m.FlushErrors.Inc()
		return err
	}
	now := pt.cfg.Clock.Now()
	pt.agg.Committed()
	pt.state.Evict(pt.agg.Watermark())
	c := pd.Counters
	m.Applied.Add(float64(c.Applied))
	m.Late.Add(float64(c.Late))
	m.Refilled.Add(float64(c.Refilled))
	m.Duplicates.Add(float64(c.Duplicates))
	m.Quarantined.Add(float64(c.Quarantined))
	for r, n := range pd.Refused.Counts {
		m.RefusedEvents.WithLabelValues(r.Kind, m.Producer(r.Producer)).Add(float64(n))
	}
	pt.refusals.add(pd.Refused, now, pt.log)
	for _, s := range pt.stamps {
		m.Latency.Observe(now.Sub(time.UnixMicro(s)).Seconds())
	}
	if pt.cfg.OnCommit != nil {
		pt.cfg.OnCommit(pt.r.part, pt.stamps, now)
	}
	pt.stamps = pt.stamps[:0]
	return nil
}

// finalFlush runs when the partition is handed over or the worker stops: ctx
// may be done already, so it gets its own deadline.
func (pt *partition) finalFlush() error {
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pt.flush(fctx); err != nil {
		return err
	}
	return lease.Release(fctx, pt.cfg.Redis, pt.r.grant)
}
