package testenv

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// StreamMessage is one message read back from a stream queue.
type StreamMessage struct {
	Offset      int64
	ContentType string
	Body        []byte
	Headers     amqp.Table
}

// ReadStream reads a stream queue from its first offset until no message has
// come for idle, and returns every message in stream order.
func ReadStream(t testing.TB, conn *amqp.Connection, queue string, idle time.Duration) []StreamMessage {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Qos(500, 0, false); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("testenv-%d", time.Now().UnixNano())
	ds, err := ch.Consume(queue, tag, false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		t.Fatalf("consume %s: %v", queue, err)
	}
	var out []StreamMessage
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case d, ok := <-ds:
			if !ok {
				t.Fatalf("consumer of %s closed", queue)
			}
			off, _ := d.Headers["x-stream-offset"].(int64)
			out = append(out, StreamMessage{Offset: off, ContentType: d.ContentType, Body: d.Body, Headers: d.Headers})
			_ = d.Ack(false)
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(idle)
		case <-timer.C:
			_ = ch.Cancel(tag, false)
			return out
		}
	}
}
