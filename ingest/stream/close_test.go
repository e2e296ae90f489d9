package stream_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestCloseWithDeliveriesInFlight: closing a consumer that stopped reading
// must not hang (the worker does that at every hand-over).
func TestCloseWithDeliveriesInFlight(t *testing.T) {
	conn := testenv.AMQP(t)
	ctx := context.Background()
	s, ch := oneStream(t, conn)
	body := make([]byte, 20000)
	for i := 0; i < 2000; i++ {
		if err := ch.PublishWithContext(ctx, "", s.Queue(0), false, false, amqp.Publishing{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 5; round++ {
		c, err := stream.Open(ctx, conn, s.Queue(0), -1, 200, "t")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 150; i++ {
			d := <-c.Deliveries()
			if err := c.Ack(d.DeliveryTag); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		select {
		case err := <-done:
			t.Logf("close took %v (%v)", time.Since(start), err)
		case <-time.After(10 * time.Second):
			t.Fatal("Close hangs")
		}
	}
}

// TestCloseIdleConsumer: closing a consumer waiting at the end of an empty
// stream (what a hand-over right after start does).
func TestCloseIdleConsumer(t *testing.T) {
	conn := testenv.AMQP(t)
	ctx := context.Background()
	s, _ := oneStream(t, conn)
	c, err := stream.Open(ctx, conn, s.Queue(0), -1, 200, "idle")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("close of an idle consumer: %v after %v", err, time.Since(start))
	}
}
