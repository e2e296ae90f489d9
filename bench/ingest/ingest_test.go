package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/replay"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// rows per encoding: JSON sends a message per event, so fewer rows keep a run short.
var rows = map[string]int64{replay.EncodingArrow: 1_000_000, replay.EncodingJSON: 50_000}

const (
	batchEvents = 1000
	maxInFlight = 512
)

func streams(b *testing.B) topology.Streams {
	s := topology.Streams{Prefix: testenv.Prefix(b), Partitions: topology.DefaultPartitions}
	conn := testenv.AMQP(b)
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Declare(ch); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Delete(ch) })
	return s
}

func BenchmarkReplay(b *testing.B) {
	for _, enc := range []string{replay.EncodingArrow, replay.EncodingJSON} {
		b.Run(enc, func(b *testing.B) {
			n := rows[enc]
			var events int64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := streams(b)
				b.StartTimer()
				res, err := replay.Run(context.Background(), replay.Config{
					DataPath: testenv.DataFile(b, "flights-3m.parquet"), Streams: s, AMQPURL: testenv.AMQPURL(b),
					Redis: testenv.Redis(b), KeyPrefix: s.Prefix, Limit: n, Encoding: enc,
					BatchEvents: batchEvents, MaxInFlight: maxInFlight,
					Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				})
				if err != nil {
					b.Fatal(err)
				}
				events += res.Confirmed
				elapsed += res.Elapsed
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		})
	}
}

type payload struct {
	queue string
	body  []byte
	ct    string
	n     int
}

// payloads builds the messages the replayer would publish for rows [0, n).
func payloads(b *testing.B, s topology.Streams, enc string, n int64) []payload {
	f, err := dataset.Open(testenv.DataFile(b, "flights-3m.parquet"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []payload
	bufs := make([][]flight.Event, s.Partitions)
	seq := make([]uint64, s.Partitions)
	ae := wire.NewArrowEncoder("replay")
	flush := func(p int) {
		if len(bufs[p]) == 0 {
			return
		}
		if enc == replay.EncodingJSON {
			for i := range bufs[p] {
				body, _ := wire.EncodeJSON(&bufs[p][i])
				out = append(out, payload{s.Queue(p), body, wire.ContentTypeJSON, 1})
			}
		} else {
			body, err := ae.Encode(bufs[p])
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, payload{s.Queue(p), append([]byte(nil), body...), wire.ContentTypeArrow, len(bufs[p])})
		}
		bufs[p] = bufs[p][:0]
	}
	err = f.Scan(context.Background(), 0, n, func(bt *dataset.Batch) error {
		for _, e := range bt.Events {
			p := s.PartitionOf(e.Origin)
			seq[p]++
			e.Producer, e.Seq = "replay", seq[p]
			bufs[p] = append(bufs[p], e)
			if len(bufs[p]) >= batchEvents {
				flush(p)
			}
		}
		for p := range bufs {
			flush(p)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkRawPublish publishes pre-encoded payloads with a bare amqp091-go
// publisher: confirms on, at most maxInFlight unconfirmed, as the replayer.
func BenchmarkRawPublish(b *testing.B) {
	for _, enc := range []string{replay.EncodingArrow, replay.EncodingJSON} {
		b.Run(enc, func(b *testing.B) {
			probe := topology.Streams{Prefix: "x", Partitions: topology.DefaultPartitions}
			msgs := payloads(b, probe, enc, rows[enc])
			var events int64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := streams(b)
				b.StartTimer()
				start := time.Now()
				events += rawPublish(b, s, msgs)
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		})
	}
}

func rawPublish(b *testing.B, s topology.Streams, msgs []payload) int64 {
	conn, err := amqp.Dial(testenv.AMQPURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, maxInFlight+1))
	ctx := context.Background()
	var events int64
	inFlight := 0
	wait := func() {
		c := <-confirms
		if !c.Ack {
			b.Fatal("nack")
		}
		inFlight--
	}
	for _, m := range msgs {
		for inFlight >= maxInFlight {
			wait()
		}
		// The probe streams' queue names differ only in their prefix.
		q := s.Queue(int(m.queue[len(m.queue)-1] - '0'))
		if err := ch.PublishWithContext(ctx, "", q, false, false, amqp.Publishing{ContentType: m.ct, DeliveryMode: amqp.Persistent, Body: m.body}); err != nil {
			b.Fatal(err)
		}
		inFlight++
		events += int64(m.n)
	}
	for inFlight > 0 {
		wait()
	}
	return events
}

var _ = fmt.Sprint
