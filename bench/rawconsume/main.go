package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/sync/errgroup"
)

func main() {
	url := flag.String("amqp-url", os.Getenv("TRIBUTARY_AMQP_URL"), "RabbitMQ AMQP URL")
	prefix := flag.String("stream-prefix", "flights", "stream queue names are PREFIX.0 .. PREFIX.P-1")
	parts := flag.Int("partitions", 8, "number of partitions")
	prefetch := flag.Int("prefetch", 200, "unacknowledged messages per partition")
	ackEvery := flag.Int("ack-every", 100, "acknowledge (multiple) every N messages")
	flag.Parse()
	if err := run(*url, *prefix, *parts, *prefetch, *ackEvery); err != nil {
		fmt.Fprintln(os.Stderr, "rawconsume:", err)
		os.Exit(1)
	}
}

func run(url, prefix string, parts, prefetch, ackEvery int) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ends := make([]int, parts)
	total := 0
	for p := range parts {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		q, err := ch.QueueDeclarePassive(fmt.Sprintf("%s.%d", prefix, p), true, false, false, false, amqp.Table{"x-queue-type": "stream"})
		if err != nil {
			return err
		}
		ends[p] = q.Messages
		total += q.Messages
		ch.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	eg, ctx := errgroup.WithContext(ctx)
	for p := range parts {
		if ends[p] == 0 {
			continue
		}
		eg.Go(func() error { return consume(ctx, conn, fmt.Sprintf("%s.%d", prefix, p), ends[p], prefetch, ackEvery) })
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	el := time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"messages": total, "seconds": el.Seconds(),
		"messages_per_s": float64(total) / el.Seconds()})
}

// consume reads n messages of one stream queue from its first one.
func consume(ctx context.Context, conn *amqp.Connection, queue string, n, prefetch, ackEvery int) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return err
	}
	ds, err := ch.ConsumeWithContext(ctx, queue, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		return err
	}
	for got := 0; got < n; {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d of %d messages: %w", queue, got, n, ctx.Err())
		case d, ok := <-ds:
			if !ok {
				return fmt.Errorf("%s: channel closed after %d of %d messages", queue, got, n)
			}
			got++
			if got%ackEvery == 0 || got == n {
				if err := d.Ack(true); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
