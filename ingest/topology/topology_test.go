package topology_test

import (
	"errors"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/testenv"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		s    topology.Streams
		want amqp.Table
	}{
		{topology.Streams{}, amqp.Table{"x-queue-type": "stream"}},
		{topology.Streams{Replicas: 1}, amqp.Table{"x-queue-type": "stream"}},
		{topology.Streams{Replicas: 3, MaxAge: "7D", MaxLengthBytes: 1 << 30},
			amqp.Table{"x-queue-type": "stream", "x-initial-cluster-size": 3, "x-max-age": "7D", "x-max-length-bytes": int64(1 << 30)}},
	}
	for _, tt := range tests {
		got := tt.s.Args()
		if len(got) != len(tt.want) {
			t.Fatalf("%+v: args %v, want %v", tt.s, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Fatalf("%+v: %s = %v, want %v", tt.s, k, got[k], v)
			}
		}
	}
	if err := (topology.Streams{Prefix: "x", Partitions: 1, Replicas: -1}).Validate(); err == nil {
		t.Fatal("negative replicas accepted")
	}
}

// TestDeclareReplicatedWithRetention: the broker takes the arguments (a
// one-node broker too), and they are really set: redeclaring the queue
// without them is refused.
func TestDeclareReplicatedWithRetention(t *testing.T) {
	conn := testenv.AMQP(t)
	s := topology.Streams{Prefix: testenv.Prefix(t), Partitions: 2, Replicas: 3, MaxAge: "7D", MaxLengthBytes: 1 << 30}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			_ = s.Delete(ch)
		}
	})
	if err := s.Declare(ch); err != nil {
		t.Fatal(err)
	}
	if err := s.Declare(ch); err != nil {
		t.Fatalf("redeclare with the same arguments: %v", err)
	}
	plain := s
	plain.MaxLengthBytes = 0
	err = plain.Declare(ch)
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.PreconditionFailed {
		t.Fatalf("redeclare without the size retention: %v, want PRECONDITION_FAILED", err)
	}
}
