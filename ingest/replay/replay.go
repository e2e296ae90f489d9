package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/amqpconn"
	"github.com/tributary-dev/tributary/internal/obs"
)

// Encodings of the replayer's messages.
const (
	EncodingArrow = "arrow"
	EncodingJSON  = "json"
)

// Defaults of Config.
const (
	DefaultProducer        = "replay"
	DefaultEncoding        = EncodingArrow
	DefaultBatchEvents     = 1000
	DefaultMaxInFlight     = 512
	DefaultCheckpointEvery = 500 * time.Millisecond
)

// Config of a replay.
type Config struct {
	DataPath string
	Streams  topology.Streams
	// AMQPURL is a broker URL, or a comma-separated list of cluster nodes in
	// order of preference: the replay moves to the next when its node dies.
	AMQPURL string
	// Redis holds the checkpoint under KeyPrefix:replay:Producer:StreamPrefix.
	Redis     redis.UniversalClient
	KeyPrefix string
	// Producer names this replayer in every event; consumers deduplicate per
	// producer (default DefaultProducer).
	Producer string
	// Speed is the factor over real time (86400: a day of flights per second);
	// 0 publishes as fast as the broker confirms.
	Speed float64
	// Limit replays rows [0, Limit) of the data set; 0 means every row.
	Limit int64
	// Encoding is EncodingArrow (a batch per message) or EncodingJSON (an
	// event per message) (default DefaultEncoding).
	Encoding string
	// BatchEvents is the largest number of events in one Arrow message
	// (default DefaultBatchEvents).
	BatchEvents int
	// MaxInFlight bounds the messages published and not yet confirmed
	// (default DefaultMaxInFlight).
	MaxInFlight int
	// CheckpointEvery is how often the checkpoint is saved: what a SIGKILL may
	// make the next run send again (default DefaultCheckpointEvery).
	CheckpointEvery time.Duration
	// Reset discards the checkpoint and starts from row 0.
	Reset bool
	// Progress, if set, is told of every confirmed event.
	Progress *obs.Progress
	// Log defaults to slog.Default(); Metrics to a set registered nowhere.
	Log     *slog.Logger
	Metrics *Metrics
}

// withDefaults returns c with its zero fields set to their defaults, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Producer == "" {
		c.Producer = DefaultProducer
	}
	if c.Encoding == "" {
		c.Encoding = DefaultEncoding
	}
	if c.Encoding != EncodingArrow && c.Encoding != EncodingJSON {
		return c, fmt.Errorf("replay: encoding %q: want %s or %s", c.Encoding, EncodingArrow, EncodingJSON)
	}
	if c.BatchEvents <= 0 {
		c.BatchEvents = DefaultBatchEvents
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = DefaultCheckpointEvery
	}
	if c.Speed < 0 {
		return c, fmt.Errorf("replay: speed %v: want a positive factor, or 0 for as fast as possible", c.Speed)
	}
	if c.Redis == nil {
		return c, errors.New("replay: Redis is required, for the checkpoint")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	return c, c.Streams.Validate()
}

// Result says what a replay did.
type Result struct {
	StartRow, EndRow int64
	// Confirmed events in this run (rows skipped as invalid are not events).
	Confirmed int64
	Skipped   int64
	Elapsed   time.Duration
}

// chunk is a run of consecutive rows: the unit of checkpointing. Its
// checkpoint becomes valid once every message with its events is confirmed.
type chunk struct {
	end         int64    // first row after the chunk
	seq         []uint64 // each partition's last seq at end
	outstanding int
	closed      bool // every message of the chunk is published
	lastTime    int64
}

type replayer struct {
	cfg      Config
	log      *slog.Logger
	m        *Metrics
	pub      *publisher
	cps      checkpoints
	seq      []uint64
	bufs     [][]flight.Event
	enc      *wire.ArrowEncoder
	chunks   []*chunk
	current  *chunk
	done     Checkpoint // the latest valid checkpoint
	doneTime int64      // event time of the checkpoint's last row
	saved    int64
	lastSave time.Time
	// checkpoint saves that failed in a row, and when to try again
	saveFails   int
	saveBackoff time.Duration
	nextTry     time.Time
	fileRows    int64
	res         Result
	// clock is the newest event time read so far, on any partition: every
	// message carries it (stream.ClockHeader).
	clock int64
	// pacing
	t0, wall0 int64
}

// Run replays the data set into the streams until the limit is reached or
// ctx ends. It resumes from the checkpoint of an earlier run, if any.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	log, m := cfg.Log, cfg.Metrics
	f, err := dataset.Open(cfg.DataPath)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	r := &replayer{
		cfg: cfg, log: log, m: m, fileRows: f.NumRows(),
		cps:  checkpoints{rdb: cfg.Redis, key: fmt.Sprintf("%s:replay:%s:%s", cfg.KeyPrefix, cfg.Producer, cfg.Streams.Prefix)},
		bufs: make([][]flight.Event, cfg.Streams.Partitions),
		enc:  wire.NewArrowEncoder(cfg.Producer),
	}
	start := time.Now()
	if err := r.resume(ctx); err != nil {
		return Result{}, err
	}
	end := f.NumRows()
	if cfg.Limit > 0 && cfg.Limit < end {
		end = cfg.Limit
	}
	r.res.StartRow, r.res.EndRow = r.done.Row, r.done.Row
	if r.done.Row >= end {
		log.Info("nothing to replay: the checkpoint is at the limit", "row", r.done.Row, "limit", end)
		return r.res, nil
	}
	log.Info("replay starting", "from_row", r.done.Row, "to_row", end, "speed", speedName(cfg.Speed),
		"encoding", cfg.Encoding, "partitions", cfg.Streams.Partitions, "producer", cfg.Producer)

	dialer, err := amqpconn.New(cfg.AMQPURL, "tributary-replay-"+cfg.Producer, log)
	if err != nil {
		return r.res, err
	}
	r.pub = newPublisher(dialer, cfg.Streams, cfg.MaxInFlight, log, m, r.confirmed)
	defer r.pub.close()
	if err := r.pub.connect(ctx); err != nil {
		return r.res, err
	}
	err = r.pipeline(ctx, f, r.done.Row, end)
	if err == nil {
		err = r.pub.drain(ctx)
	}
	// Save what is confirmed, even when interrupted, so that a restart sends
	// as little again as possible.
	if serr := r.finalSave(ctx); serr != nil && err == nil {
		err = serr
	}
	r.res.EndRow = r.done.Row
	r.res.Elapsed = time.Since(start)
	if err != nil {
		return r.res, fmt.Errorf("replay stopped at row %d: %w", r.done.Row, err)
	}
	log.Info("replay done", "rows", r.res.EndRow-r.res.StartRow, "confirmed_events", r.res.Confirmed,
		"skipped_rows", r.res.Skipped, "elapsed", r.res.Elapsed.Round(time.Millisecond),
		"events_per_s", int64(float64(r.res.Confirmed)/r.res.Elapsed.Seconds()))
	return r.res, nil
}

func speedName(s float64) string {
	if s == 0 {
		return "max"
	}
	return fmt.Sprintf("%gx", s)
}

func (r *replayer) resume(ctx context.Context) error {
	if r.cfg.Reset {
		if err := r.cps.reset(ctx); err != nil {
			return fmt.Errorf("reset replay checkpoint: %w", err)
		}
	}
	cp, err := r.cps.load(ctx)
	if err != nil {
		return err
	}
	if cp == nil {
		r.done = Checkpoint{Seq: make([]uint64, r.cfg.Streams.Partitions), Partitions: r.cfg.Streams.Partitions, FileRows: r.fileRows}
	} else {
		if cp.Partitions != r.cfg.Streams.Partitions || len(cp.Seq) != cp.Partitions {
			return fmt.Errorf("the checkpoint %s was made with %d partitions, this replay has %d: use --reset with new streams",
				r.cps.key, cp.Partitions, r.cfg.Streams.Partitions)
		}
		if cp.FileRows != r.fileRows {
			return fmt.Errorf("the checkpoint %s was made over a data set of %d rows, this one has %d", r.cps.key, cp.FileRows, r.fileRows)
		}
		r.done = *cp
		r.log.Info("resuming from checkpoint", "row", cp.Row)
	}
	r.saved = r.done.Row
	r.seq = append([]uint64(nil), r.done.Seq...)
	return nil
}

// pipeline reads the data set in one goroutine and publishes in this one, so
// that decoding Parquet overlaps with encoding and publishing.
func (r *replayer) pipeline(ctx context.Context, f *dataset.File, from, to int64) error {
	const depth = 3
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *dataset.Batch, depth)
	free := make(chan *dataset.Batch, depth+1)
	for i := 0; i <= depth; i++ {
		free <- &dataset.Batch{}
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(full)
		readErr <- f.Scan(ctx, from, to, func(b *dataset.Batch) error {
			var c *dataset.Batch
			select {
			case c = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			// Scan reuses b after this returns: hand over a copy.
			c.FirstRow, c.Rows = b.FirstRow, b.Rows
			c.Events = append(c.Events[:0], b.Events...)
			c.Skipped = append(c.Skipped[:0], b.Skipped...)
			select {
			case full <- c:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for b := range full {
		if err := r.batch(ctx, b); err != nil {
			cancel()
			for range full { // let the reader finish
			}
			<-readErr
			return err
		}
		free <- b
	}
	return <-readErr
}

// batch publishes one batch of the data set, as one chunk.
func (r *replayer) batch(ctx context.Context, b *dataset.Batch) error {
	c := &chunk{end: b.FirstRow + b.Rows}
	r.current = c
	r.chunks = append(r.chunks, c)
	for _, s := range b.Skipped {
		r.log.Warn("skipping a row that is not a valid event", "row", s.Row, "err", s.Err)
	}
	r.res.Skipped += int64(len(b.Skipped))
	r.m.Skipped.Add(float64(len(b.Skipped)))
	for i := range b.Events {
		e := b.Events[i]
		if err := r.pace(ctx, e.Time); err != nil {
			return err
		}
		p := r.cfg.Streams.PartitionOf(e.Origin)
		r.seq[p]++
		e.Producer, e.Seq = r.cfg.Producer, r.seq[p]
		r.clock = max(r.clock, e.Time)
		r.bufs[p] = append(r.bufs[p], e)
		if len(r.bufs[p]) >= r.cfg.BatchEvents || r.cfg.Encoding == EncodingJSON {
			if err := r.flush(ctx, p); err != nil {
				return err
			}
		}
	}
	if n := len(b.Events); n > 0 {
		c.lastTime = b.Events[n-1].Time
	}
	if err := r.flushAll(ctx); err != nil {
		return err
	}
	c.seq = append([]uint64(nil), r.seq...)
	c.closed = true
	r.advance()
	return r.maybeSave(ctx)
}

// pace sleeps until the wall-clock time of an event at the configured speed.
func (r *replayer) pace(ctx context.Context, t int64) error {
	if r.cfg.Speed == 0 {
		return nil
	}
	now := time.Now().UnixMicro()
	if r.wall0 == 0 {
		r.t0, r.wall0 = t, now
		return nil
	}
	due := r.wall0 + int64(float64(t-r.t0)/r.cfg.Speed)
	// Within 10 ms of its time an event goes out now: finer pacing only makes smaller messages.
	if due-now < 10_000 {
		return nil
	}
	// Events due later wait; what is buffered goes out now, so that the
	// streams see each event at its paced time.
	if err := r.flushAll(ctx); err != nil {
		return err
	}
	if err := r.pub.handleConfirms(ctx, false); err != nil {
		if err := r.pub.recover(ctx, err); err != nil {
			return err
		}
	}
	if err := r.maybeSave(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(due-now) * time.Microsecond):
		return nil
	}
}

func (r *replayer) flushAll(ctx context.Context) error {
	for p := range r.bufs {
		if err := r.flush(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (r *replayer) flush(ctx context.Context, p int) error {
	events := r.bufs[p]
	if len(events) == 0 {
		return nil
	}
	m := &message{queue: r.cfg.Streams.Queue(p), events: len(events), clock: r.clock, chunk: r.current}
	switch r.cfg.Encoding {
	case EncodingJSON:
		for i := range events {
			body, err := wire.EncodeJSON(&events[i])
			if err != nil {
				return err
			}
			one := *m
			one.events, one.contentType, one.body = 1, wire.ContentTypeJSON, body
			if err := r.send(ctx, &one); err != nil {
				return err
			}
		}
	default:
		body, err := r.enc.Encode(events)
		if err != nil {
			return err
		}
		// The encoder reuses its buffer; an unconfirmed message must keep its own copy.
		m.contentType, m.body = wire.ContentTypeArrow, append([]byte(nil), body...)
		if err := r.send(ctx, m); err != nil {
			return err
		}
	}
	r.bufs[p] = events[:0]
	return nil
}

func (r *replayer) send(ctx context.Context, m *message) error {
	m.chunk.outstanding++
	return r.pub.publish(ctx, m)
}

// confirmed is called for every confirmed message.
func (r *replayer) confirmed(m *message) {
	m.chunk.outstanding--
	r.res.Confirmed += int64(m.events)
	r.m.Confirmed.Add(float64(m.events))
	r.advance()
}

// advance moves the checkpoint over every leading chunk that is complete.
func (r *replayer) advance() {
	moved := false
	for len(r.chunks) > 0 && r.chunks[0].closed && r.chunks[0].outstanding == 0 {
		c := r.chunks[0]
		r.chunks = r.chunks[1:]
		r.done.Row, r.done.Seq = c.end, c.seq
		if c.lastTime != 0 {
			r.doneTime = c.lastTime
			r.m.EventTime.Set(float64(c.lastTime) / 1e6)
		}
		moved = true
	}
	if moved && r.cfg.Progress != nil {
		r.cfg.Progress.Set(r.done.Row, "event time "+time.UnixMicro(r.doneTime).UTC().Format("2006-01-02 15:04"))
	}
}

// maybeSave saves the checkpoint every CheckpointEvery. A failed save (Redis
// down, or failing over) does not stop the replay: the checkpoint only bounds
// what a restart sends again, so the replay goes on, logs, and tries again
// with backoff.
func (r *replayer) maybeSave(ctx context.Context) error {
	if r.done.Row == r.saved || time.Since(r.lastSave) < r.cfg.CheckpointEvery || time.Now().Before(r.nextTry) {
		return nil
	}
	if err := r.cps.save(ctx, &r.done); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.saveFails++
		r.saveBackoff = min(max(2*r.saveBackoff, 200*time.Millisecond), 5*time.Second)
		r.nextTry = time.Now().Add(r.saveBackoff)
		r.m.CheckpointErrors.Inc()
		r.log.Warn("cannot save the replay checkpoint; replaying on and retrying", "attempt", r.saveFails,
			"in", r.saveBackoff, "row", r.done.Row, "err", err)
		return nil
	}
	if r.saveFails > 0 {
		r.log.Info("replay checkpoint saved again", "row", r.done.Row, "failed_attempts", r.saveFails)
	}
	r.saveFails, r.saveBackoff = 0, 0
	r.saved, r.lastSave = r.done.Row, time.Now()
	return nil
}

// finalSave saves the checkpoint at the end of a run. Redis may be down or
// failing over: it retries with backoff as long as ctx lives, and for 10 s
// more once it ended (an interrupted replay still records its progress if
// Redis is back soon).
func (r *replayer) finalSave(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := r.cps.save(sctx, &r.done)
		cancel()
		if err == nil {
			return nil
		}
		r.m.CheckpointErrors.Inc()
		if ctx.Err() != nil && time.Now().After(deadline) {
			return err
		}
		r.log.Warn("cannot save the final replay checkpoint; retrying", "attempt", attempt, "in", backoff, "row", r.done.Row, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			// Once interrupted, keep retrying only until the deadline.
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(backoff)
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
