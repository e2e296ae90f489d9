package stream_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestOffsetsAndEnd pins down what the consumer relies on: offsets count
// messages from 0, End is one past the last offset, and consuming "after k"
// never delivers an offset <= k (the consumer skips them anyway).
func TestOffsetsAndEnd(t *testing.T) {
	conn := testenv.AMQP(t)
	ctx := context.Background()
	s, ch := oneStream(t, conn)
	const n = 1000
	for i := 0; i < n; i++ {
		if err := ch.PublishWithContext(ctx, "", s.Queue(0), false, false, amqp.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		end int64
		err error
	)
	t0 := time.Now()
	defer func() { t.Logf("end wait %v", time.Since(t0)) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if end, err = stream.End(ch, s.Queue(0)); err != nil {
			t.Fatal(err)
		}
		if end == n {
			break
		}
	}
	if end != n {
		t.Fatalf("End = %d, want %d", end, n)
	}
	c, err := stream.Open(ctx, conn, s.Queue(0), 499, 100, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		start := time.Now()
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		t.Logf("close took %v", time.Since(start))
	}()
	first := true
	for want := int64(500); want < n; want++ {
		d := <-c.Deliveries()
		off, err := stream.Offset(&d)
		if err != nil {
			t.Fatal(err)
		}
		if first {
			t.Logf("first delivered offset after 499: %d", off)
			first = false
		}
		for off < want { // chunk re-delivery: skip
			if err := c.Ack(d.DeliveryTag); err != nil {
				t.Fatal(err)
			}
			d = <-c.Deliveries()
			off, _ = stream.Offset(&d)
		}
		if off != want {
			t.Fatalf("offset %d, want %d", off, want)
		}
		if err := c.Ack(d.DeliveryTag); err != nil {
			t.Fatal(err)
		}
	}
}
