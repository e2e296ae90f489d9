package feed

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
)

// Options say what to publish and how.
type Options struct {
	DataPath string
	// Rows [From, To) of the data set; Seq counts from row 0 whatever From is,
	// so publishing a range again re-sends the same seqs (duplicates).
	From, To int64
	// Batch is the number of events per message and partition (default 500).
	Batch int
	// Producer names the producer (default "feed").
	Producer string
	// Rate is events per second over all partitions, 0 for as fast as possible.
	Rate float64
	// Stamp adds the stream.PublishedAtHeader to every message.
	Stamp bool
	// ConfirmEvery waits for the broker's confirms every that many messages (default 200).
	ConfirmEvery int
}

// Result says what was published.
type Result struct {
	Events   int64
	Messages []int64 // per partition
}

// Publish publishes the rows of opts into streams (declaring them).
func Publish(ctx context.Context, conn *amqp.Connection, streams topology.Streams, opts Options) (Result, error) {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Producer == "" {
		opts.Producer = "feed"
	}
	if opts.ConfirmEvery <= 0 {
		opts.ConfirmEvery = 200
	}
	ch, err := conn.Channel()
	if err != nil {
		return Result{}, fmt.Errorf("channel: %w", err)
	}
	defer ch.Close()
	if err := streams.Declare(ch); err != nil {
		return Result{}, err
	}
	if err := ch.Confirm(false); err != nil {
		return Result{}, fmt.Errorf("confirm mode: %w", err)
	}
	f, err := dataset.Open(opts.DataPath)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	P := streams.Partitions
	pb := &publisher{ch: ch, streams: streams, opts: opts, res: Result{Messages: make([]int64, P)},
		seqs: make([]uint64, P), pending: make([][]flight.Event, P), enc: wire.NewArrowEncoder(opts.Producer), start: time.Now()}
	// Seqs are ordinals within the partition from row 0: scan rows before
	// From only to count them.
	err = f.Scan(ctx, 0, opts.To, func(b *dataset.Batch) error { return pb.batch(ctx, b) })
	if err != nil {
		return pb.res, err
	}
	for p := range pb.pending {
		if len(pb.pending[p]) > 0 {
			if err := pb.send(ctx, p); err != nil {
				return pb.res, err
			}
		}
	}
	return pb.res, pb.wait(ctx)
}

// publisher is one Publish call's state.
type publisher struct {
	ch       *amqp.Channel
	streams  topology.Streams
	opts     Options
	res      Result
	seqs     []uint64
	pending  [][]flight.Event
	enc      *wire.ArrowEncoder
	confirms []*amqp.DeferredConfirmation
	start    time.Time
}

// batch numbers the events of one batch of rows and sends the full messages.
func (pb *publisher) batch(ctx context.Context, b *dataset.Batch) error {
	row, skipped := b.FirstRow, b.Skipped
	for i := range b.Events {
		// Rows of the batch that were skipped leave gaps in Events.
		for len(skipped) > 0 && skipped[0].Row == row {
			row++
			skipped = skipped[1:]
		}
		e := b.Events[i]
		p := pb.streams.PartitionOf(e.Origin)
		pb.seqs[p]++
		row++
		if row-1 < pb.opts.From {
			continue
		}
		e.Producer, e.Seq = pb.opts.Producer, pb.seqs[p]
		pb.pending[p] = append(pb.pending[p], e)
		if len(pb.pending[p]) >= pb.opts.Batch {
			if err := pb.send(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// wait waits for the outstanding confirms.
func (pb *publisher) wait(ctx context.Context) error {
	for _, c := range pb.confirms {
		ok, err := c.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
		if !ok {
			return fmt.Errorf("broker nacked a message")
		}
	}
	pb.confirms = pb.confirms[:0]
	return nil
}

// send publishes partition p's pending events as one message, at the rate.
func (pb *publisher) send(ctx context.Context, p int) error {
	body, err := pb.enc.Encode(pb.pending[p])
	if err != nil {
		return err
	}
	if pb.opts.Rate > 0 {
		due := pb.start.Add(time.Duration(float64(pb.res.Events) / pb.opts.Rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	msg := amqp.Publishing{ContentType: wire.ContentTypeArrow, Body: body, DeliveryMode: amqp.Persistent}
	if pb.opts.Stamp {
		msg.Headers = amqp.Table{stream.PublishedAtHeader: time.Now().UnixMicro()}
	}
	c, err := pb.ch.PublishWithDeferredConfirmWithContext(ctx, "", pb.streams.Queue(p), false, false, msg)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", pb.streams.Queue(p), err)
	}
	pb.confirms = append(pb.confirms, c)
	pb.res.Events += int64(len(pb.pending[p]))
	pb.res.Messages[p]++
	pb.pending[p] = pb.pending[p][:0]
	if len(pb.confirms) >= pb.opts.ConfirmEvery {
		return pb.wait(ctx)
	}
	return nil
}
