package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// PublishedAtHeader is an optional message header carrying the publish time in
// µs since the epoch (AMQP's timestamp property has only second resolution);
// when present, the speed layer measures event-to-view latency from it.
const PublishedAtHeader = "x-published-at-us"

// ClockHeader is an optional message header: the newest event time (µs) its
// producer had read or published, on any partition, when it sent the
// message. A partition silent for hours (one airport's night) is far behind
// the rest of the stream, and its next event far ahead of the partition's own
// watermark; measured against the producer's clock it is not ahead at all.
// The speed layer's future bound (quarantine.CheckFuture) takes the later of
// the two, so it still catches an event far ahead of everything its producer
// sent (a typo of a year), and never a quiet partition's next event.
const ClockHeader = "x-tributary-clock-us"

// Consumer reads one stream queue.
type Consumer struct {
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
	ackEvery   int
	unacked    int
	lastTag    uint64
}

// Open starts consuming queue from the message after offset `after` (-1:
// from the first message kept). prefetch bounds the unacknowledged deliveries.
func Open(ctx context.Context, conn *amqp.Connection, queue string, after int64, prefetch int, tag string) (*Consumer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel for %s: %w", queue, err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("qos on %s: %w", queue, err)
	}
	var start any = "first"
	if after >= 0 {
		start = after + 1
	}
	ds, err := ch.ConsumeWithContext(ctx, queue, tag, false, false, false, false, amqp.Table{"x-stream-offset": start})
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("consume %s from %v: %w", queue, start, err)
	}
	return &Consumer{ch: ch, deliveries: ds, ackEvery: max(1, prefetch/2)}, nil
}

// Deliveries is closed when the channel closes.
func (c *Consumer) Deliveries() <-chan amqp.Delivery { return c.deliveries }

// Ack acknowledges a delivery, sending one ack (multiple=true) every
// prefetch/2 deliveries: acks are the broker's flow credit.
func (c *Consumer) Ack(tag uint64) error {
	c.lastTag = tag
	c.unacked++
	if c.unacked < c.ackEvery {
		return nil
	}
	return c.flushAcks()
}

func (c *Consumer) flushAcks() error {
	if c.unacked == 0 {
		return nil
	}
	c.unacked = 0
	if err := c.ch.Ack(c.lastTag, true); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return nil
}

// closeWait bounds how long Close waits for the broker's close-ok.
const closeWait = 3 * time.Second

// ErrCloseTimeout says that the broker did not confirm closing the channel in time.
var ErrCloseTimeout = errors.New("channel close not confirmed in time")

// Close acks what is pending and closes the channel (which cancels the
// consumer). It waits at most closeWait for the broker: under load we saw
// close-ok take minutes, and nothing depends on it (progress is committed in
// Redis, not in the broker), so the worker must not wait for it.
func (c *Consumer) Close() error {
	done := make(chan error, 1)
	go func() { done <- errors.Join(c.flushAcks(), c.ch.Close()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWait):
		return ErrCloseTimeout
	}
}

// ErrNoOffset says that a delivery lacks the x-stream-offset header (it did
// not come from a stream queue).
var ErrNoOffset = errors.New("delivery has no x-stream-offset header")

// Offset returns a delivery's stream offset.
func Offset(d *amqp.Delivery) (int64, error) {
	switch v := d.Headers["x-stream-offset"].(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case int:
		return int64(v), nil
	default:
		return 0, ErrNoOffset
	}
}

// PublishedAt returns the PublishedAtHeader of a delivery in µs, 0 if absent.
func PublishedAt(d *amqp.Delivery) int64 { return headerMicros(d, PublishedAtHeader) }

// Clock returns the ClockHeader of a delivery in µs, 0 if absent.
func Clock(d *amqp.Delivery) int64 { return headerMicros(d, ClockHeader) }

func headerMicros(d *amqp.Delivery, name string) int64 {
	switch v := d.Headers[name].(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// End returns the number of messages in a stream queue, which, since the
// streams keep everything by default (no x-max-age), is the offset one past
// the last message: consumer lag = End - (last consumed offset + 1). The
// channel is closed by the broker if the queue does not exist, so callers
// use a channel of their own for it.
func End(ch *amqp.Channel, queue string) (int64, error) {
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{"x-queue-type": "stream"})
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", queue, err)
	}
	return int64(q.Messages), nil
}
