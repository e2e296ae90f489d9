package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/amqpconn"
)

// errNoConfirm: the broker neither confirmed nor refused a message in time.
var errNoConfirm = errors.New("no publisher confirm")

// message is one AMQP message kept until the broker confirms it.
type message struct {
	order       uint64 // publication order, kept across republications
	queue       string
	contentType string
	body        []byte
	events      int
	clock       int64 // the replayer's newest event time when it made the message (stream.ClockHeader)
	chunk       *chunk
	sentAt      time.Time
}

// publisher publishes with confirms over one channel and survives broker
// failures: it reconnects with backoff and publishes again, in their original
// order, the messages that were not confirmed. It is used from one goroutine.
type publisher struct {
	dialer  *amqpconn.Dialer
	node    string // URL of the node of the current connection
	streams topology.Streams
	log     *slog.Logger
	m       *Metrics
	// maxInFlight bounds unconfirmed messages: the memory kept for
	// republication, and the confirm channel's buffer (which must never fill,
	// or amqp091 stalls the connection).
	maxInFlight int
	onConfirm   func(*message)
	// confirmTimeout bounds the wait for a confirm (see handleConfirms).
	confirmTimeout time.Duration

	conn     *amqp.Connection
	ch       *amqp.Channel
	confirms chan amqp.Confirmation
	closed   chan *amqp.Error
	nextTag  uint64
	order    uint64
	pending  map[uint64]*message // by delivery tag of the current channel
	retry    []*message          // nacked, to publish again
}

func newPublisher(dialer *amqpconn.Dialer, streams topology.Streams, maxInFlight int, log *slog.Logger, m *Metrics, onConfirm func(*message)) *publisher {
	return &publisher{dialer: dialer, streams: streams, log: log, m: m, maxInFlight: maxInFlight,
		onConfirm: onConfirm, pending: make(map[uint64]*message), confirmTimeout: 10 * time.Second}
}

// connect dials the broker's nodes until one answers or ctx ends, with
// exponential backoff (amqpconn), and prepares a confirming channel there.
func (p *publisher) connect(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		conn, node, err := p.dialer.Dial(ctx)
		if err != nil {
			return err
		}
		p.conn, p.node = conn, node
		err = p.open()
		if err == nil {
			return nil
		}
		p.closeConn()
		p.dialer.Failed(node)
		p.log.Warn("broker unreachable, retrying", "attempt", attempt, "node", amqpconn.Redact(node), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// open prepares the channel of a new connection.
func (p *publisher) open() error {
	ch, err := p.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := p.streams.Declare(ch); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode: %w", err)
	}
	p.ch = ch
	p.confirms = ch.NotifyPublish(make(chan amqp.Confirmation, p.maxInFlight+1))
	p.closed = p.conn.NotifyClose(make(chan *amqp.Error, 1))
	p.nextTag = 1
	return nil
}

func (p *publisher) closeConn() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.conn, p.ch = nil, nil
}

// recover reconnects after a failure and publishes again every message that
// was not confirmed, in its original order.
func (p *publisher) recover(ctx context.Context, cause error) error {
outer:
	for {
		if p.node != "" {
			p.dialer.Failed(p.node)
		}
		p.closeConn()
		p.log.Warn("lost the broker; reconnecting", "node", amqpconn.Redact(p.node), "err", cause, "unconfirmed_messages", len(p.pending)+len(p.retry))
		if err := p.connect(ctx); err != nil {
			return err
		}
		p.m.Reconnects.Inc()
		again := make([]*message, 0, len(p.pending)+len(p.retry))
		for _, m := range p.pending {
			again = append(again, m)
		}
		again = append(again, p.retry...)
		slices.SortFunc(again, func(a, b *message) int { return cmp.Compare(a.order, b.order) })
		clear(p.pending)
		p.retry = p.retry[:0]
		p.log.Info("reconnected to the broker; publishing unconfirmed messages again", "node", amqpconn.Redact(p.node), "messages", len(again))
		for i, m := range again {
			if err := p.send(ctx, m); err != nil {
				// Whatever was not sent goes back to the retry list, in order.
				p.retry = append(p.retry, again[i:]...)
				cause = err
				continue outer
			}
			p.m.Republished.Inc()
		}
		return nil
	}
}

func (p *publisher) send(ctx context.Context, m *message) error {
	m.sentAt = time.Now()
	msg := amqp.Publishing{ContentType: m.contentType, DeliveryMode: amqp.Persistent, Body: m.body, Timestamp: m.sentAt}
	if m.clock > 0 {
		msg.Headers = amqp.Table{stream.ClockHeader: m.clock}
	}
	err := p.ch.PublishWithContext(ctx, "", m.queue, false, false, msg)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", m.queue, err)
	}
	p.pending[p.nextTag] = m
	p.nextTag++
	return nil
}

// publish sends m, blocking while maxInFlight messages are unconfirmed. It
// returns only when m is sent (not yet confirmed) or ctx ends.
func (p *publisher) publish(ctx context.Context, m *message) error {
	p.order++
	m.order = p.order
	p.m.Published.Add(float64(m.events))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.ch == nil {
			if err := p.recover(ctx, errors.New("not connected")); err != nil {
				return err
			}
		}
		if err := p.handleConfirms(ctx, len(p.pending)+len(p.retry) >= p.maxInFlight); err != nil {
			if err := p.recover(ctx, err); err != nil {
				return err
			}
			continue
		}
		if len(p.pending)+len(p.retry) >= p.maxInFlight {
			continue
		}
		if err := p.resendNacked(ctx); err != nil {
			if err := p.recover(ctx, err); err != nil {
				return err
			}
			continue
		}
		if err := p.send(ctx, m); err != nil {
			p.retry = append(p.retry, m)
			if err := p.recover(ctx, err); err != nil {
				return err
			}
			return nil
		}
		return nil
	}
}

func (p *publisher) resendNacked(ctx context.Context) error {
	for len(p.retry) > 0 {
		m := p.retry[0]
		if err := p.send(ctx, m); err != nil {
			return err
		}
		p.retry = p.retry[1:]
		p.m.Republished.Inc()
	}
	return nil
}

// handleConfirms processes the confirms that arrived; with block, it waits for
// at least one. An error means the connection is gone.
func (p *publisher) handleConfirms(ctx context.Context, block bool) error {
	for {
		var (
			c  amqp.Confirmation
			ok bool
		)
		if block {
			// A message published while its stream elects a new leader (its
			// node died) may never be confirmed nor refused: after
			// confirmTimeout, treat the connection as failed, reconnect and
			// publish again what is unconfirmed (consumers drop duplicates).
			t := time.NewTimer(p.confirmTimeout)
			select {
			case c, ok = <-p.confirms:
			case err := <-p.closed:
				t.Stop()
				return fmt.Errorf("connection closed: %w", err)
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
				p.m.ConfirmTimeouts.Inc()
				return fmt.Errorf("%w: %d messages unconfirmed after %v", errNoConfirm, len(p.pending), p.confirmTimeout)
			}
			t.Stop()
			block = false
		} else {
			select {
			case c, ok = <-p.confirms:
			default:
				return nil
			}
		}
		if !ok {
			return errors.New("channel closed")
		}
		m := p.pending[c.DeliveryTag]
		if m == nil {
			continue
		}
		delete(p.pending, c.DeliveryTag)
		if !c.Ack {
			p.m.Nacked.Inc()
			p.log.Warn("broker refused a message; publishing it again", "queue", m.queue, "events", m.events)
			p.retry = append(p.retry, m)
			continue
		}
		p.m.Latency.Observe(time.Since(m.sentAt).Seconds())
		p.onConfirm(m)
	}
}

// drain waits until every message is confirmed.
func (p *publisher) drain(ctx context.Context) error {
	for len(p.pending)+len(p.retry) > 0 {
		if p.ch == nil {
			if err := p.recover(ctx, errors.New("not connected")); err != nil {
				return err
			}
		}
		if err := p.resendNacked(ctx); err != nil {
			if err := p.recover(ctx, err); err != nil {
				return err
			}
			continue
		}
		if len(p.pending) == 0 {
			continue
		}
		if err := p.handleConfirms(ctx, true); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := p.recover(ctx, err); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *publisher) close() { p.closeConn() }
