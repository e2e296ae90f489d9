package topology

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
)

// DefaultPrefix names the stream queues: "tributary.flights.0" and so on.
const DefaultPrefix = "tributary.flights"

// DefaultPartitions is the default number of partitions.
const DefaultPartitions = 8

// Streams describes the partitioned stream queues of the flight events.
type Streams struct {
	// Prefix of every queue name; partition i is Prefix + "." + i.
	Prefix string
	// Partitions is P, the number of stream queues.
	Partitions int
	// MaxAge, when set, is the streams' retention (x-max-age, e.g. "7D");
	// by default streams keep everything, since the archiver needs every event.
	MaxAge string
	// MaxLengthBytes, when > 0, is the streams' size retention
	// (x-max-length-bytes): the oldest segments go past that size. Like
	// MaxAge it must exceed what the archiver may lag behind.
	MaxLengthBytes int64
	// Replicas, when > 1, is the number of broker nodes holding each stream
	// (x-initial-cluster-size): a stream survives the loss of a minority of
	// them. 0 and 1 leave the argument out (one node).
	Replicas int
}

// Args returns the stream queues' declaration arguments.
func (s Streams) Args() amqp.Table {
	args := amqp.Table{"x-queue-type": "stream"}
	if s.MaxAge != "" {
		args["x-max-age"] = s.MaxAge
	}
	if s.MaxLengthBytes > 0 {
		args["x-max-length-bytes"] = s.MaxLengthBytes
	}
	if s.Replicas > 1 {
		args["x-initial-cluster-size"] = s.Replicas
	}
	return args
}

// Validate checks the settings.
func (s Streams) Validate() error {
	if s.Prefix == "" {
		return errors.New("stream prefix must not be empty")
	}
	if s.Partitions < 1 || s.Partitions > 1024 {
		return fmt.Errorf("partitions must be in 1..1024, got %d", s.Partitions)
	}
	if s.Replicas < 0 || s.MaxLengthBytes < 0 {
		return fmt.Errorf("stream replicas (%d) and max length bytes (%d) must not be negative", s.Replicas, s.MaxLengthBytes)
	}
	return nil
}

// Queue returns the name of partition p's stream queue.
func (s Streams) Queue(p int) string { return fmt.Sprintf("%s.%d", s.Prefix, p) }

// PartitionOf returns the partition of an origin airport.
func (s Streams) PartitionOf(origin string) int { return flight.Partition(origin, s.Partitions) }

// Declare declares every stream queue (idempotent: redeclaring with the same
// arguments is a no-op). A queue that exists with other arguments is an error.
func (s Streams) Declare(ch *amqp.Channel) error {
	if err := s.Validate(); err != nil {
		return err
	}
	args := s.Args()
	for p := 0; p < s.Partitions; p++ {
		if _, err := ch.QueueDeclare(s.Queue(p), true, false, false, false, args); err != nil {
			return fmt.Errorf("declare stream queue %s: %w", s.Queue(p), err)
		}
	}
	return nil
}

// Delete deletes every stream queue (tests and `tributary streams delete`).
func (s Streams) Delete(ch *amqp.Channel) error {
	for p := 0; p < s.Partitions; p++ {
		if _, err := ch.QueueDelete(s.Queue(p), false, false, false); err != nil {
			return fmt.Errorf("delete stream queue %s: %w", s.Queue(p), err)
		}
	}
	return nil
}
