package archive

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

	keyspace "github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dedup"
	"github.com/tributary-dev/tributary/ingest/quarantine"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/amqpconn"
	"github.com/tributary-dev/tributary/internal/lease"
)

// Putter stores a segment atomically (segstore.Store does).
type Putter interface {
	Put(ctx context.Context, name string, data []byte) error
}

// Config configures an Archiver.
type Config struct {
	Redis     redis.UniversalClient
	AMQPURL   string
	Streams   topology.Streams
	KeyPrefix string
	Store     Putter
	// StoreURL is recorded in Redis so that the recompute finds the segments.
	StoreURL string
	// SegmentEvents cuts a segment after that many events (default 100,000).
	SegmentEvents int
	// SegmentInterval cuts a segment that long after its first message at the
	// latest (default 30 s).
	SegmentInterval time.Duration
	// Prefetch bounds the unacknowledged deliveries per partition (default
	// 64). A message carries an Arrow batch of ~1,000 events (tributary
	// replay's): 500 of them per partition held most of the streams in the
	// archiver's memory (57 MB of bodies at its peak on the 3M replay).
	Prefetch int
	// MaxQuarantine caps the quarantine list (default 1000); MaxQuarantineBody
	// the bytes kept of a body (default 4096).
	MaxQuarantine, MaxQuarantineBody int
	// ID names this archiver among those sharing the partitions (default
	// host-pid); it must not contain '|'.
	ID string
	// LeaseTTL is how long a partition stays with an archiver that stopped
	// renewing its lease (default 5 s): a dead archiver's partitions move
	// to the others within it.
	LeaseTTL time.Duration
	Log      *slog.Logger
	Metrics  *Metrics

	// encoding admits one segment encoding at a time, across partitions:
	// an encoding holds a zstd encoder (16 MB of history each) and the Arrow
	// builders and dictionary tables of a segment, and the partitions cut at
	// about the same moments; encoding is CPU-bound, so one at a time costs
	// no throughput on a few cores.
	encoding chan struct{}
}

func (c *Config) defaults() error {
	if c.Redis == nil || c.Store == nil || c.AMQPURL == "" || c.KeyPrefix == "" {
		return errors.New("archive: Redis, AMQPURL, KeyPrefix and Store are required")
	}
	if err := c.Streams.Validate(); err != nil {
		return err
	}
	if c.SegmentEvents <= 0 {
		c.SegmentEvents = 100_000
	}
	if c.SegmentInterval <= 0 {
		c.SegmentInterval = 30 * time.Second
	}
	if c.Prefetch <= 0 {
		c.Prefetch = 64
	}
	if c.MaxQuarantine <= 0 {
		c.MaxQuarantine = 1000
	}
	if c.MaxQuarantineBody <= 0 {
		c.MaxQuarantineBody = 4096
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	c.encoding = make(chan struct{}, 1)
	return nil
}

// ErrRefused says that a commit found another committed offset than the one
// this archiver resumed from: another archiver wrote meanwhile.
var ErrRefused = errors.New("archive commit refused: the committed offset moved (another archiver?)")

// ErrLeaseLost says that a commit found the partition's lease not held by
// this archiver any more (it expired, or another archiver took it).
var ErrLeaseLost = errors.New("archive commit refused: the partition's lease is not held")

// Run archives, until ctx is done, the partitions that this archiver holds
// the lease of: archivers share the partitions fairly (owner.go). A
// partition that fails (broker lost, commit refused, store error) restarts
// from its committed offset after a backoff; what it had buffered is
// consumed again.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	o, err := newOwner(&cfg)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- o.run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Stopping: a round blocked on a hanging Redis (go-redis does not
	// interrupt a read when ctx ends) must not hold the process past 3 s.
	select {
	case err := <-done:
		return err
	case <-time.After(stopGrace + 500*time.Millisecond):
		cfg.Log.Warn("archiver stopping without waiting longer for Redis or the store; uncommitted cuts are archived again by the next owner")
		return nil
	}
}

// archivePartition archives partition p under grant until ctx is done or
// the lease is lost, restarting after errors with a backoff.
func archivePartition(ctx context.Context, cfg *Config, p int, grant lease.Grant) {
	backoff := 200 * time.Millisecond
	for {
		started := time.Now()
		err := runPartition(ctx, cfg, p, grant)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrLeaseLost) {
			cfg.Metrics.leasesLost.Inc()
			cfg.Log.Warn("archive partition lease lost; stopping it (its uncommitted cut is dropped)", "partition", p, "token", grant.Token)
			return
		}
		if time.Since(started) > time.Minute {
			backoff = 200 * time.Millisecond
		}
		cfg.Log.Warn("archive partition stopped, restarting from the committed offset", "partition", p, "err", err, "backoff", backoff)
		cfg.Metrics.restarts.WithLabelValues(strconv.Itoa(p)).Inc()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// partition is one partition's archiving state between two commits.
type partition struct {
	cfg       *Config
	p         int
	label     string
	keys      keyspace.Keys
	grant     lease.Grant
	committed Progress
	// pending, since the last commit:
	offset      int64
	maxTime     int64
	seqs        *dedup.Seqs
	events      buffer
	duplicates  int64
	quarantine  []string
	firstAt     time.Time
	decodeSpace []flight.Event
}

func runPartition(ctx context.Context, cfg *Config, p int, grant lease.Grant) error {
	pr, err := LoadProgress(ctx, cfg.Redis, cfg.KeyPrefix, p)
	if err != nil {
		return err
	}
	// AMQPURL may list several nodes: take the first that answers (Run
	// retries with backoff), and resume from the committed offset there.
	d, err := amqpconn.New(cfg.AMQPURL, fmt.Sprintf("tributary-archive-%d", p), cfg.Log)
	if err != nil {
		return err
	}
	conn, _, err := d.DialOnce()
	if err != nil {
		return fmt.Errorf("dial broker: %w", err)
	}
	defer conn.Close()
	cons, err := stream.Open(ctx, conn, cfg.Streams.Queue(p), pr.Offset, cfg.Prefetch, fmt.Sprintf("archive-%d", p))
	if err != nil {
		return err
	}
	defer cons.Close()
	st := &partition{cfg: cfg, p: p, label: strconv.Itoa(p), keys: keyspace.New(cfg.KeyPrefix), grant: grant, committed: pr,
		offset: pr.Offset, maxTime: pr.MaxTime, seqs: dedup.New(pr.Seqs)}
	cfg.Metrics.offset.WithLabelValues(st.label).Set(float64(pr.Offset))
	cfg.Log.Info("archiving partition", "partition", p, "from_offset", pr.Offset+1, "segments", len(pr.Names))
	tick := time.NewTicker(min(time.Second, cfg.SegmentInterval/4))
	defer tick.Stop()
	resumed := false
	for {
		select {
		case <-ctx.Done():
			// Buffered events are dropped, not committed: the next run reads them again.
			return nil
		case <-tick.C:
			if st.offset != st.committed.Offset && time.Since(st.firstAt) >= cfg.SegmentInterval {
				if err := st.cut(ctx); err != nil {
					return err
				}
			}
		case d, ok := <-cons.Deliveries():
			if !ok {
				return errors.New("the broker closed the consumer")
			}
			if err := cons.Ack(d.DeliveryTag); err != nil {
				return err
			}
			off, err := stream.Offset(&d)
			if err != nil {
				return err
			}
			if !resumed {
				resumed = true
				st.checkResume(off)
			}
			// A stream delivers from the start of the chunk holding the
			// requested offset: skip what was archived already.
			if off <= st.offset {
				continue
			}
			st.message(off, &d)
			if st.events.Len() >= cfg.SegmentEvents {
				if err := st.cut(ctx); err != nil {
					return err
				}
			}
		}
	}
}

// checkResume looks at the first offset delivered after a (re)start: a
// stream delivers from the start of the chunk holding the requested offset,
// so a first offset above it means the stream no longer holds the messages
// in between: its retention (--stream-max-age, --stream-max-bytes) dropped
// them before they were archived. The archive goes on from what the stream
// holds (it cannot do better), but never silently: an error log and
// tributary_archive_skipped_offsets_total, which the ArchiveRetentionLoss
// alert watches.
func (st *partition) checkResume(first int64) {
	want := st.committed.Offset + 1
	if first <= want {
		return
	}
	st.cfg.Metrics.skipped.WithLabelValues(st.label).Add(float64(first - want))
	st.cfg.Log.Error("the stream no longer holds messages the archiver has not archived: its retention dropped them; "+
		"the batch layer misses them (replay them, or lengthen the retention)",
		"partition", st.p, "committed_offset", st.committed.Offset, "first_offset_held", first, "messages_lost", first-want)
}

func (st *partition) message(off int64, d *amqp.Delivery) {
	if st.offset == st.committed.Offset {
		st.firstAt = time.Now()
	}
	st.offset = off
	evs, err := wire.Decode(st.decodeSpace[:0], d.ContentType, d.Body)
	st.decodeSpace = evs[:0]
	if err != nil {
		// Bad input never stops the archive: keep it aside with the reason.
		e := quarantine.Entry{Partition: st.p, Offset: off, Reason: err.Error(), Body: quarantine.Cut(d.Body, st.cfg.MaxQuarantineBody), At: time.Now().UTC()}
		st.quarantine = append(st.quarantine, e.Encode())
		st.cfg.Metrics.quarantined.WithLabelValues(st.label).Inc()
		st.cfg.Log.Warn("quarantined a malformed message", "partition", st.p, "offset", off, "reason", err)
		return
	}
	for i := range evs {
		e := &evs[i]
		// The same check as the speed layer's, before the seq is admitted:
		// both layers leave out the same events.
		if reason := quarantine.CheckPartition(e, st.p, st.cfg.Streams.Partitions); reason != "" {
			q := quarantine.Entry{Partition: st.p, Offset: off, Reason: reason, Body: quarantine.Cut(quarantine.EventBody(e), st.cfg.MaxQuarantineBody), At: time.Now().UTC()}
			st.quarantine = append(st.quarantine, q.Encode())
			st.cfg.Metrics.quarantined.WithLabelValues(st.label).Inc()
			st.cfg.Log.Debug("quarantined an event of another partition", "partition", st.p, "offset", off, "reason", reason)
			continue
		}
		if !st.seqs.Admit(e.Producer, e.Seq) {
			st.duplicates++
			continue
		}
		if e.Time > st.maxTime {
			st.maxTime = e.Time
		}
		st.events.add(e)
	}
}

// cut writes the buffered events as one segment, then commits.
func (st *partition) cut(ctx context.Context) error {
	name := ""
	var size int
	if st.events.Len() > 0 {
		n := segment.Name{Partition: st.p, First: st.committed.Offset + 1, Last: st.offset}
		select {
		case st.cfg.encoding <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		data, err := segment.EncodeEvents(&st.events)
		<-st.cfg.encoding
		if err != nil {
			return err
		}
		start := time.Now()
		if err := st.cfg.Store.Put(ctx, n.String(), data); err != nil {
			return fmt.Errorf("archive partition %d: %w", st.p, err)
		}
		st.cfg.Metrics.putSeconds.Observe(time.Since(start).Seconds())
		name, size = n.String(), len(data)
	}
	changed := st.seqs.Changed()
	args := []any{st.committed.Offset, st.offset, st.maxTime, st.events.Len(), st.duplicates, len(st.quarantine),
		name, st.committed.Offset + 1, st.cfg.MaxQuarantine, commitAttempt(), st.grant.Value(), len(changed)}
	for prod, mark := range changed {
		args = append(args, prod, mark.String())
	}
	for _, q := range st.quarantine {
		args = append(args, q)
	}
	keys := []string{st.keys.ArchivePartition(st.p), st.keys.Segments(st.p), st.keys.Quarantine(st.p), st.grant.Key}
	ok, err := commitScript.Run(ctx, st.cfg.Redis, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("archive partition %d: commit: %w", st.p, err)
	}
	switch ok {
	case -1:
		return fmt.Errorf("partition %d: %w", st.p, ErrLeaseLost)
	case 0:
		st.cfg.Metrics.refused.WithLabelValues(st.label).Inc()
		return fmt.Errorf("partition %d: %w", st.p, ErrRefused)
	case 2:
		st.cfg.Log.Info("archive commit retried after a lost reply; it had applied", "partition", st.p, "offset", st.offset)
	}
	m := st.cfg.Metrics
	m.events.WithLabelValues(st.label).Add(float64(st.events.Len()))
	m.duplicates.WithLabelValues(st.label).Add(float64(st.duplicates))
	if name != "" {
		m.segments.WithLabelValues(st.label).Inc()
		m.bytes.WithLabelValues(st.label).Add(float64(size))
		st.cfg.Log.Debug("segment committed", "segment", name, "events", st.events.Len(), "bytes", size)
	}
	m.offset.WithLabelValues(st.label).Set(float64(st.offset))
	m.complete.WithLabelValues(st.label).Set(float64(st.maxTime) / 1e6)
	st.committed.Offset, st.committed.MaxTime = st.offset, st.maxTime
	st.events.reset()
	st.duplicates, st.quarantine = 0, nil
	st.seqs.Committed()
	return nil
}
