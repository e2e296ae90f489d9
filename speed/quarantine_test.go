package speed_test

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/wire"
)

// TestMalformedMessagesAreQuarantined injects malformed messages between
// valid ones: they land in the quarantine with their reason and offset, the
// partitions move on, and the views are those of the valid flights only.
func TestMalformedMessagesAreQuarantined(t *testing.T) {
	e := newEnv(t)
	const n = 20_000
	r1 := e.publish(0, n/2)

	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	bad := flight.Event{ID: "bad-1", Time: time.Date(2001, 1, 1, 5, 0, 0, 0, time.UTC).UnixMicro(), Origin: "ATL",
		Destination: "LAX", Delay: flight.MaxDelay + 1, Distance: 100, Producer: "evil", Seq: 1}
	badArrow, err := wire.NewArrowEncoder("evil").Encode([]flight.Event{bad})
	if err != nil {
		t.Fatal(err)
	}
	injected := []struct {
		partition   int
		contentType string
		body        []byte
		reason      string
	}{
		{0, wire.ContentTypeJSON, []byte(`{"id": "x", "time": "yesterday"`), "malformed"},
		{3, "text/plain", []byte("hello"), "content type"},
		{3, wire.ContentTypeArrow, append([]byte(nil), badArrow...), "delay"},
		{5, wire.ContentTypeArrow, []byte("not arrow at all"), "malformed"},
	}
	extra := make([]int64, e.streams.Partitions)
	for _, m := range injected {
		if err := ch.PublishWithContext(context.Background(), "", e.streams.Queue(m.partition), false, false,
			amqp.Publishing{ContentType: m.contentType, Body: m.body}); err != nil {
			t.Fatal(err)
		}
		extra[m.partition]++
	}
	r2 := e.publish(n/2, n)
	e.inProcess("w1")
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
			if q.Partition == m.partition && string(q.Body) == string(m.body) && strings.Contains(q.Reason, m.reason) && q.Offset >= 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("no quarantine entry for %q in partition %d (reason containing %q): %+v", m.body, m.partition, m.reason, got)
		}
	}
	t.Logf("quarantine: %+v", got[0])
}
