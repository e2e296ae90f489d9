package speed

import (
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/stream"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/speed/metrics"
)

// lagMeter is the duty that sets the consumer-lag gauge of every owned
// partition: the stream's end (message count, see stream.End) minus the next
// offset to consume. It keeps a channel of its own, since the broker closes a
// channel on a failed passive declare.
type lagMeter struct {
	conn    *amqp.Connection
	streams topology.Streams
	ch      *amqp.Channel
	m       *metrics.Metrics
}

func (l *lagMeter) step(owned runs) {
	for p, r := range owned {
		if l.ch == nil || l.ch.IsClosed() {
			ch, err := l.conn.Channel()
			if err != nil {
				return
			}
			l.ch = ch
		}
		end, err := stream.End(l.ch, l.streams.Queue(p))
		if err != nil {
			continue
		}
		l.m.Lag.WithLabelValues(strconv.Itoa(p)).Set(float64(max(0, end-(r.consumed.Load()+1))))
	}
}

// forget removes a partition's gauge once it is not owned any more.
func (l *lagMeter) forget(p int) { l.m.Lag.DeleteLabelValues(strconv.Itoa(p)) }

func (l *lagMeter) close() {
	if l.ch != nil {
		l.ch.Close()
	}
}
