package stream_test

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// oneStream declares a one-partition stream of the test's own prefix on conn,
// deleted when the test ends, and returns it with the channel that declared it.
func oneStream(t *testing.T, conn *amqp.Connection) (topology.Streams, *amqp.Channel) {
	t.Helper()
	s := topology.Streams{Prefix: testenv.Prefix(t), Partitions: 1}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Declare(ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Delete(ch) })
	return s, ch
}
