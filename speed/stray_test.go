package speed_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/speed/agg"
)

// TestStrayEventsChangeNoOtherAnswer publishes, between two halves of a
// replay, one event dated 2099 and one dated months ahead into ATL's
// partition, and one ATL event into another partition: the three are
// quarantined with their reason, the partition's watermark does not move,
// and the views of every other event are exact (no real event became late).
// Without the bound, the 2099 event would make every later ATL-partition
// event late.
func TestStrayEventsChangeNoOtherAnswer(t *testing.T) {
	e := newEnv(t)
	const n = 20_000
	r1 := e.publish(0, n/2)

	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	atl := flight.Partition("ATL", e.streams.Partitions)
	other := (atl + 1) % e.streams.Partitions
	stray := func(id string, at time.Time) flight.Event {
		return flight.Event{ID: id, Time: at.UnixMicro(), Origin: "ATL", Destination: "LAX", Delay: 5, Distance: 1946, Producer: "stray", Seq: 0}
	}
	injected := []struct {
		partition int
		event     flight.Event
		reason    string
	}{
		{atl, stray("stray-2099", time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)), "future: event time 2099-12-31T00:00:00Z is"},
		{atl, stray("stray-sept", time.Date(2001, 9, 10, 8, 0, 0, 0, time.UTC)), "future: event time 2001-09-10T08:00:00Z is"},
		{other, stray("stray-misplaced", time.Date(2001, 1, 1, 6, 0, 0, 0, time.UTC)), "partition: origin \"ATL\" belongs to partition"},
	}
	extra := make([]int64, e.streams.Partitions)
	for _, m := range injected {
		body := wire.AppendJSON(nil, &m.event)
		if err := ch.PublishWithContext(context.Background(), "", e.streams.Queue(m.partition), false, false,
			amqp.Publishing{ContentType: wire.ContentTypeJSON, Body: body}); err != nil {
			t.Fatal(err)
		}
		extra[m.partition]++
	}
	r2 := e.publish(n/2, n)
	_, met := e.inProcess("w1")
	msgs := totalMessages(r1, r2)
	for p := range msgs {
		msgs[p] += extra[p]
	}
	e.waitCommitted(msgs, 2*time.Minute)

	exp, events := expected(t, e.data, n)
	e.checkViews(exp)
	if dups, late, q := e.checkTotals(events); dups != 0 || late != 0 || q != int64(len(injected)) {
		t.Errorf("duplicates %d, late %d, quarantined %d (want 0, 0, %d)", dups, late, q, len(injected))
	}
	st, err := e.reader.Partition(context.Background(), atl)
	if err != nil {
		t.Fatal(err)
	}
	if wm := time.UnixMicro(st.MaxTime).UTC(); wm.Year() != 2001 || wm.Month() > time.February {
		t.Errorf("ATL's partition watermark moved to %v", wm)
	}
	got, err := e.reader.Quarantine(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(injected) {
		t.Fatalf("%d quarantine entries, want %d: %+v", len(got), len(injected), got)
	}
	for _, m := range injected {
		found := false
		for _, q := range got {
			if q.Partition != m.partition || !strings.HasPrefix(q.Reason, m.reason) {
				continue
			}
			// The body is the event alone, decodable and publishable again.
			evs, err := wire.Decode(nil, wire.ContentTypeJSON, q.Body)
			if err != nil || len(evs) != 1 || evs[0] != m.event {
				t.Errorf("entry %q: body %q decodes to %+v, %v; want %+v", q.Reason, q.Body, evs, err, m.event)
			}
			found = true
		}
		if !found {
			t.Errorf("no quarantine entry in partition %d with reason %q: %+v", m.partition, m.reason, got)
		}
	}
	for kind, want := range map[string]float64{agg.KindFuture: 2, agg.KindPartition: 1, agg.KindLate: 0} {
		if got := testutil.ToFloat64(met.RefusedEvents.WithLabelValues(kind, "stray")); got != want {
			t.Errorf("refused_events_total{kind=%q,producer=stray} = %v, want %v", kind, got, want)
		}
	}
}
